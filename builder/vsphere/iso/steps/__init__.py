"""vsphere-iso's own steps, one per file (the shared ones are in builder.vsphere.common.steps)."""
