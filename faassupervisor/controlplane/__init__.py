"""The control plane: an OSCAR FDL rendered as Kubernetes/Knative objects that inject our runtime.

`render` (ConfigMap + Secret + Knative Service, or the exposed Deployment
family), `render-job` (one Job per storage event), `render-webhook` and
`inject` (a mutating admission webhook doing the same injection for any
annotated pod). The service image needs nothing of ours installed: the
runtime arrives at /oscar/bin through an init container or OSCAR's PVC.
"""
