"""Management commands of the ``inmemorystorage`` app."""
