//! The kaspire custom resource types (group `kaspire.dev`, version `v1alpha1`).
