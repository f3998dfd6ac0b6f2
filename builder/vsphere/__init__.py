"""The vSphere builders: `vsphere-clone` (clone/) and `vsphere-iso` (iso/) over common/."""
