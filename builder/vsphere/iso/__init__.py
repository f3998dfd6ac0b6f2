"""The `vsphere-iso` builder: a new VM installed from an ISO on the datastore."""
