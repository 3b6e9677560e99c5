"""Broken mapping files: every problem is reported with the file and the line to fix.

The corpus covers TOML syntax, unknown and missing keys, wrong types and the
rules across keys; `test_sql_mapping_errors.py` covers what only the database
can tell (tables and columns that do not exist, unusable column types).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chimplink.platforms import ConnectorError, FieldType
from chimplink.platforms.mapping_file import (
    DEFAULT_GRANTED,
    MappingError,
    load_mapping,
    parse_mapping,
)
from tests.platforms.helpers import MAPPING, write

BASE = """\
table = "customers"
key = "id"
email = "email"
updated_at = "updated_at"
"""

# (name, text, line named, words the message must hold)
CORPUS = [
    ("syntax: no value", BASE + "schema =\n", 5, "TOML syntax error at column 9"),
    ("syntax: unclosed string", 'table = "customers\nkey = "id"\n', 1, "TOML syntax error"),
    ("syntax: duplicate key", BASE + 'key = "other"\n', 5, "TOML syntax error"),
    (
        "syntax: at the end",
        BASE + "[fields.a]\ncolumn = [\n",
        6,
        "TOML syntax error at the end of the file",
    ),
    ("unknown key", BASE + 'tabel = "x"\n', 5, "tabel: unknown key (expected one of: table,"),
    (
        "unknown key in a section",
        BASE + '\n[consent]\ncolum = "newsletter"\n',
        7,
        "consent.colum: unknown key (expected one of: column, granted, withdrawn)",
    ),
    (
        "unknown key in a field",
        BASE + '[fields.plan]\ncolumn = "plan"\nkind = "text"\n',
        7,
        "fields.plan.kind: unknown key (expected one of: column, type, label)",
    ),
    (
        "unknown section",
        BASE + "\n[merge_fields]\nFNAME = 1\n",
        6,
        "merge_fields: unknown key",
    ),
    (
        "missing table",
        'key = "id"\nemail = "e"\nsequence = "s"\n',
        1,
        "table: missing required key",
    ),
    (
        "missing column in a section",
        BASE + "\n\n[consent]\ngranted = ['y']\n",
        7,
        "consent.column: missing required key",
    ),
    (
        "missing column in an inline field",
        BASE + 'fields.plan = { type = "text" }\n',
        5,
        "fields.plan.column: missing required key",
    ),
    (
        "wrong type",
        BASE.replace('key = "id"', "key = 5"),
        2,
        "key: Input should be a valid string (got 5)",
    ),
    (
        "empty name",
        BASE.replace('email = "email"', 'email = ""'),
        3,
        "email: String should have at least 1 character",
    ),
    (
        "unknown field type",
        BASE + '\n[fields.plan]\ncolumn = "plan"\ntype = "colour"\n',
        8,
        "fields.plan.type: Input should be 'text', 'number', 'date', 'birthday', 'phone', "
        "'url' or 'zip' (got 'colour')",
    ),
    (
        "field not a table",
        BASE + 'fields.plan = "plan"\n',
        5,
        "fields.plan: must be a table, not a string",
    ),
    (
        "list of the wrong type",
        BASE + "[consent]\ncolumn = 'c'\ngranted = [\n  'yes',\n  1,\n]\n",
        9,
        "consent.granted[1]: Input should be a valid string (got 1)",
    ),
    ("no cursor column", 'table = "t"\nkey = "k"\nemail = "e"\n', 1, "updated_at: missing"),
    (
        "two cursor columns",
        BASE + 'sequence = "seq"\n',
        5,
        "sequence: give either updated_at or sequence, not both",
    ),
    (
        "consent both ways",
        BASE + '[consent]\ncolumn = "c"\ngranted = ["Yes"]\nwithdrawn = ["no", "yes "]\n',
        8,
        "consent.withdrawn: 'yes' cannot mean both granted and withdrawn",
    ),
    (
        "tags both ways",
        BASE + '\n[tags]\ncolumn = "labels"\ntable = "customer_labels"\n',
        6,
        "tags: give either column, or table + key + label, not both",
    ),
    (
        "tags join incomplete",
        BASE + '[tags]\ntable = "customer_labels"\nkey = "customer_id"\n',
        5,
        "tags: missing label",
    ),
    (
        "erasures both ways",
        BASE + '[erasures]\nflag = "deleted"\ntable = "erased"\n',
        5,
        "erasures: give either flag, or table + key + a cursor column, not both",
    ),
    (
        "erasures without a cursor",
        BASE + '[erasures]\ntable = "erased"\nkey = "id"\n',
        5,
        "erasures: missing updated_at or sequence",
    ),
    (
        "write-back consent without [consent]",
        BASE + '[write_back]\nconsent = "no"\n',
        6,
        "write_back.consent: needs a [consent] section",
    ),
    (
        "write-back consent that reads back as granted",
        BASE + '[consent]\ncolumn = "c"\n[write_back]\nconsent = "yes"\n',
        8,
        "write_back.consent: 'yes' would read back as not withdrawn",
    ),
    (
        "write-back consent of a wrong type",
        BASE + '[consent]\ncolumn = "c"\n[write_back]\nconsent = 1.5\n',
        8,
        "write_back.consent: must be a string, an integer or a boolean, not a float",
    ),
    (
        "write-back of an unmapped field",
        BASE
        + '[fields.plan]\ncolumn = "plan"\n[write_back]\n'
        + 'fields = [\n  "plan",\n  "shoe_size",\n]\n',
        10,
        "write_back.fields[1]: 'shoe_size' is not a mapped field (fields: plan)",
    ),
    (
        "touch with a sequence",
        BASE.replace("updated_at =", "sequence =") + "[write_back]\nemail = true\ntouch = true\n",
        7,
        "write_back.touch: touch needs an updated_at cursor column",
    ),
    (
        "email write-back not a boolean",
        BASE + '[write_back]\nemail = "email"\n',
        6,
        "write_back.email: Input should be a valid boolean (got 'email')",
    ),
    (
        "dotted keys and quoted keys",
        BASE + '"fields"."first name".column = "fname"\nfields."first name".colour = "red"\n',
        6,
        "fields.first name.colour: unknown key",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "words"), [case[1:] for case in CORPUS], ids=[case[0] for case in CORPUS]
)
def test_broken_mapping_names_the_file_and_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    message = str(caught.value)
    assert f"{path}, line {line}: " in message
    assert words in message
    assert isinstance(caught.value, ConnectorError)


def test_every_problem_is_reported_in_line_order(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'table = 1\nkey = "id"\n\n[fields.a]\ncolumn = "a"\ntype = "colour"\n'
        '[tags]\nkolumn = "x"\n',
    )
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    assert [p.line for p in caught.value.problems] == [1, 1, 6, 8]
    assert str(caught.value).splitlines() == [
        f"{path}, line 1: table: Input should be a valid string (got 1)",
        f"{path}, line 1: email: missing required key",
        f"{path}, line 6: fields.a.type: Input should be 'text', 'number', 'date', 'birthday',"
        " 'phone', 'url' or 'zip' (got 'colour')",
        f"{path}, line 8: tags.kolumn: unknown key (expected one of: column, separator, table,"
        " key, label)",
    ]


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match=r"missing\.toml: cannot read the mapping file"):
        load_mapping(tmp_path / "missing.toml")
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'table = "t"\nkey = "k"\nemail = "caf\xe9"\n')
    with pytest.raises(MappingError, match=r"latin\.toml, line 3: the file is not UTF-8"):
        load_mapping(latin)


def test_a_good_mapping_with_defaults() -> None:
    parsed = parse_mapping(MAPPING, source="shop.toml")
    m = parsed.mapping
    assert (m.table, m.key, m.email, m.cursor_column, m.cursor_key) == (
        "customers",
        "id",
        "email",
        "updated_at",
        "updated_at",
    )
    assert m.fields["birthday"].type is FieldType.BIRTHDAY
    assert m.fields["first_name"].type is FieldType.TEXT
    assert m.tags is not None and m.tags.separator == ","
    assert m.write_back is None
    assert parsed.line_of(("fields", "ltv", "type")) == 26
    assert parsed.line_of(("nowhere",)) == 1
    defaults = parse_mapping(BASE + '[consent]\ncolumn = "c"\n').mapping.consent
    assert defaults is not None and tuple(defaults.granted) == DEFAULT_GRANTED


def test_lines_are_found_past_multi_line_strings_and_arrays() -> None:
    text = (
        'table = "customers"\n'  # 1
        'note = """\n'  # 2
        "key = 'not a key'\n"  # 3
        '"""\n'  # 4
        "key = 'id'\n"  # 5
    )
    with pytest.raises(MappingError) as caught:
        parse_mapping(text, source="m.toml")
    assert "m.toml, line 2: note: unknown key" in str(caught.value)
    assert "m.toml, line 1: email: missing required key" in str(caught.value)


def test_the_documented_example_is_a_valid_mapping() -> None:
    from chimplink.platforms import mapping_file

    doc = mapping_file.__doc__ or ""
    block = doc.split("Example, with every section::\n\n", 1)[1].split("\n\nEvery problem", 1)[0]
    example = "\n".join(line.removeprefix("    ") for line in block.splitlines())
    m = parse_mapping(example, source="docstring").mapping
    assert m.schema_ == "public"
    assert m.erasures is not None and m.erasures.table == "erased_customers"
    assert m.write_back is not None and m.write_back.fields == ["first_name"]
