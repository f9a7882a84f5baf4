// gofwd: a Go remotedialer server built on the unmodified reference library, with the
// example server's authorizer (any non-empty X-Tunnel-ID) on /connect, plus plain TCP
// forwards: every connection accepted on a forward listener is dialled through the client
// -id to that forward's target and the bytes are piped both ways.
//
// The example server's /client/ route issues a GET without a body whatever the request, so
// it cannot carry an upload or a connection with bulk data both ways; a forward can.
//
//	gofwd -listen 127.0.0.1:0 -id foo -fwd 127.0.0.1:0=127.0.0.1:8125 [-fwd ...] [-debug]
//
// prints "listening on HOST:PORT" and one "forward HOST:PORT -> TARGET" line per -fwd.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rancher/remotedialer"
	"github.com/sirupsen/logrus"
)

type fwdList []string

func (f *fwdList) String() string     { return strings.Join(*f, ",") }
func (f *fwdList) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	var fwds fwdList
	listen := flag.String("listen", "127.0.0.1:0", "websocket listen address (/connect)")
	id := flag.String("id", "foo", "client id the forwards dial through")
	debug := flag.Bool("debug", false, "debug logs and every tunnel message")
	flag.Var(&fwds, "fwd", "LISTEN=[ID@]TARGET (repeatable)")
	flag.Parse()
	if *debug {
		logrus.SetLevel(logrus.DebugLevel)
		remotedialer.PrintTunnelData = true
	}

	srv := remotedialer.New(func(r *http.Request) (string, bool, error) {
		k := r.Header.Get("X-Tunnel-ID")
		return k, k != "", nil
	}, remotedialer.DefaultErrorWriter)
	mux := http.NewServeMux()
	mux.Handle("/connect", srv)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	go http.Serve(ln, mux)

	for _, f := range fwds {
		parts := strings.SplitN(f, "=", 2)
		if len(parts) != 2 {
			fmt.Fprintln(os.Stderr, "bad -fwd", f)
			os.Exit(2)
		}
		fl, err := net.Listen("tcp", parts[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cid, target := *id, parts[1]
		if i := strings.Index(target, "@"); i >= 0 {
			cid, target = target[:i], target[i+1:]
		}
		fmt.Printf("forward %s -> %s@%s\n", fl.Addr(), cid, target)
		go serveFwd(srv, fl, cid, target)
	}
	os.Stdout.Sync()
	select {}
}

func serveFwd(srv *remotedialer.Server, fl net.Listener, id, target string) {
	for {
		c, err := fl.Accept()
		if err != nil {
			logrus.Errorf("accept: %v", err)
			return
		}
		go pipe(srv, c, id, target)
	}
}

func pipe(srv *remotedialer.Server, local net.Conn, id, target string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	remote, err := srv.Dialer(id)(ctx, "tcp", target)
	cancel()
	if err != nil {
		logrus.Errorf("fwd dial %s via %s: %v", target, id, err)
		local.Close()
		return
	}
	logrus.Infof("fwd %s -> %s via %s: open", local.RemoteAddr(), target, id)
	var once sync.Once
	closeBoth := func() { once.Do(func() { local.Close(); remote.Close() }) }
	var up, down int64
	done := make(chan struct{})
	go func() {
		up, _ = io.Copy(remote, local)
		closeBoth()
		close(done)
	}()
	down, _ = io.Copy(local, remote)
	closeBoth()
	<-done
	logrus.Infof("fwd %s -> %s via %s: closed, up %d down %d", local.RemoteAddr(), target, id, up, down)
}
