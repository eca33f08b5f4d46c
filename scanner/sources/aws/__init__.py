"""The `aws:` source: S3, IAM, CloudTrail, SageMaker, API Gateway, VPC and GuardDuty."""
