//go:build tools

// Package tools pins KServe's controller (cmd/manager) so that `go mod tidy`
// keeps its dependencies; build.sh builds it with `go build`.
package tools

import (
	_ "github.com/kserve/kserve/cmd/manager"
)
