"""What the vSphere builders share: config blocks, the driver Protocol, steps, artifact.

Modules: `config` (option blocks), `driver` (VSphereDriver Protocol, records, VSPHERE
factory), `sdk` (the pyVmomi implementation), `run` (VSphereRun), `steps` (one step per
file), `artifact` (VSphereArtifact), `resources` (the `pybuild cleanup` handler).
"""
