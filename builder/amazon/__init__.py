"""Amazon EC2 builders: `amazon-ebs` (ebs/) and the pieces they share (common/)."""
