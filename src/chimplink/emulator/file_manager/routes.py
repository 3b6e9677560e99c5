"""URL tables of the File Manager: the API and the public file URLs."""

from chimplink.emulator.file_manager import handlers
from chimplink.emulator.routing import Route

routes = [
    Route("POST", "/file-manager/files", handlers.upload_file),
    Route("GET", "/file-manager/files", handlers.list_files),
    Route("GET", "/file-manager/files/{file_id}", handlers.get_file),
    Route("PATCH", "/file-manager/files/{file_id}", handlers.update_file),
    Route("DELETE", "/file-manager/files/{file_id}", handlers.delete_file),
    Route("POST", "/file-manager/folders", handlers.create_folder),
    Route("GET", "/file-manager/folders", handlers.list_folders),
    Route("GET", "/file-manager/folders/{folder_id}", handlers.get_folder),
    Route("PATCH", "/file-manager/folders/{folder_id}", handlers.update_folder),
    Route("DELETE", "/file-manager/folders/{folder_id}", handlers.delete_folder),
    Route("GET", "/file-manager/folders/{folder_id}/files", handlers.list_folder_files),
]

public_routes = [
    Route("GET", "/files/{account_id}/{file_id}/{file_name}", handlers.serve_file),
]
