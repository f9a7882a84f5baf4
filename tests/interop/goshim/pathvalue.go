// Copied into the example server (as server/zz_rdial_shim_pathvalue.go) when the toolchain
// is older than Go 1.22: req.PathValue(name) becomes rdialPathValue(req, name), and the two
// "/client/{id}/{scheme}/{host}[/{path...}]" patterns become one "/client/" prefix route.
package main

import (
	"net/http"
	"strings"
)

func rdialPathValue(req *http.Request, name string) string {
	// /client/{id}/{scheme}/{host}/{path...}
	p := strings.SplitN(strings.TrimPrefix(req.URL.Path, "/client/"), "/", 4)
	for len(p) < 4 {
		p = append(p, "")
	}
	switch name {
	case "id":
		return p[0]
	case "scheme":
		return p[1]
	case "host":
		return p[2]
	case "path":
		return p[3]
	}
	return ""
}
