"""vsphere-iso's own steps, one per file (the shared ones, the floppy steps among them, are in
builder.vsphere.common.steps)."""
