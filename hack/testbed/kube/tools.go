//go:build tools

// Package tools pins the control-plane and node commands the test bed builds (no kube-proxy:
// the bed's nodes share one network namespace, see hack/lib-node.sh).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
