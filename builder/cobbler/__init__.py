"""Cobbler, the PXE provisioning server: what the `cobbler` post-processor talks to.

driver.py is the Protocol in our words, sdk.py the only module that speaks XML-RPC
(stdlib `xmlrpc.client` is Cobbler's SDK), resources.py how `pybuild cleanup` removes
what a dead run registered, artifact.py the registered profile.
"""
