"""``manage.py inmemorystorage``: see :mod:`.inmemorystorage`."""
