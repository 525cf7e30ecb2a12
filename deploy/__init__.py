"""Cloud deployment tooling: the image build command, the kustomize renderer of knative/ and the deploy CLI that
drives Terraform and applies the manifests (issue 14). The platform itself never imports this package."""
