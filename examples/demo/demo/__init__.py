"""A demo of inmemorystorage: upload files, see them served by runserver, watch the budget."""
