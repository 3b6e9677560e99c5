"""One service per resource group; each maps methods to endpoints over the requestor."""
