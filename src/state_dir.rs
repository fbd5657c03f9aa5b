//! The state directory (default `./.kaspire`): store, TLS material, kubeconfig, logs.
