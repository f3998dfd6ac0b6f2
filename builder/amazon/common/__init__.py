"""What every amazon builder shares: access and run options, the EC2 driver, steps, artifact."""
