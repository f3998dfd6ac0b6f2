"""vsphere-clone's own steps: clone the template, customize the guest."""

from builder.vsphere.clone.steps.step_clone import StepCloneVM, clone_spec
from builder.vsphere.clone.steps.step_customize import StepCustomize, customize_spec

__all__ = ["StepCloneVM", "StepCustomize", "clone_spec", "customize_spec"]
