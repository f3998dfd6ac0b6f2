// pybuild-vcsim: the govmomi vSphere API simulator (simulator.VPX(): DC0, cluster DC0_C0,
// host DC0_H0, datastore LocalDS_0, network "VM Network", four VMs) for pybuild's
// integration tests and bench, over TLS on a loopback address, with one set of credentials
// (a wrong user or password is refused; vcsim's default accepts any), and the vSphere
// Automation REST API (/rest: sessions, content libraries, OVF and VM template library items)
// of govmomi's vapi/simulator, whose session login is held to the same credentials.
//
// Built by tests/testbed/vsphere.sh together with the simulator extension in
// simulator/pybuild_ext.go (PutUsbScanCodes, ExportVm, OvfManager.CreateDescriptor, the SOAP
// call log and the /pybuild/ endpoints); see that file. Datastore files (/folder/) need a
// login here, as on vCenter.
//
// /pybuild/rest-sessions lists the REST sessions opened through the front door and not
// logged out ({"open": [first 8 characters of each id]}).
//
//	pybuild-vcsim -listen 127.0.0.1:0 -username U [-password P | env VCSIM_PASSWORD]
//	              [-soap-log FILE] [-cert FILE] [-ready-file FILE] [-exit-with-parent]
//
// The datastore's directories are made under $TMPDIR and removed on SIGTERM/SIGINT.
package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	_ "github.com/vmware/govmomi/vapi/simulator" // registers /rest (needs RegisterEndpoints)
	"github.com/vmware/govmomi/vim25/soap"
)

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "pybuild-vcsim: "+format+"\n", args...)
	os.Exit(2)
}

// writeAtomically writes data to path through a temporary file in the same directory.
func writeAtomically(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := ioutil.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// soapLog writes one line per SOAP request: seconds since start, method, the _this object
// (Type:value), the first 8 characters of the session cookie ("-" before Login), and the
// client's User-Agent; tab-separated.
type soapLog struct {
	sync.Mutex
	w     io.Writer
	start time.Time
}

func (l *soapLog) record(r *http.Request) {
	if l == nil || r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/sdk") {
		return
	}
	body, err := ioutil.ReadAll(r.Body)
	_ = r.Body.Close()
	r.Body = ioutil.NopCloser(bytes.NewReader(body))
	if err != nil {
		return
	}
	method, this := simulator.PybuildSoapMethod(body)
	session := "-"
	if cookie, err := r.Cookie(soap.SessionCookieName); err == nil && len(cookie.Value) >= 8 {
		session = cookie.Value[:8]
	}
	agent := strings.NewReplacer("\t", " ", "\n", " ").Replace(r.UserAgent())
	l.Lock()
	defer l.Unlock()
	fmt.Fprintf(l.w, "%.3f\t%s\t%s\t%s\t%s\n", time.Since(l.start).Seconds(), method, this, session, agent)
}

const (
	restSession    = "/rest/com/vmware/cis/session"
	restOVFItem    = "/rest/com/vmware/vcenter/ovf/library-item"
	restItem       = "/rest/com/vmware/content/library/item/id:"
	restSessionKey = "vmware-api-session-id"
)

// restSessions: the REST session ids the front door saw issued and not yet deleted.
type restSessions struct {
	sync.Mutex
	open map[string]bool
}

func (s *restSessions) serve(w http.ResponseWriter, r *http.Request) {
	s.Lock()
	ids := []string{}
	for id := range s.open {
		if len(id) > 8 {
			id = id[:8]
		}
		ids = append(ids, id)
	}
	s.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string][]string{"open": ids})
}

// capture keeps a copy of what a handler writes (the REST login's answer).
type capture struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *capture) WriteHeader(status int) {
	c.status = status
	c.ResponseWriter.WriteHeader(status)
}

func (c *capture) Write(b []byte) (int, error) {
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}

// restLogin: POST /rest/com/vmware/cis/session needs basic auth with the right credentials
// (vapi/simulator accepts any non-empty pair); the id it answers is remembered.
func (s *restSessions) login(next http.Handler, w http.ResponseWriter, r *http.Request, user, pass string) {
	if u, p, basic := r.BasicAuth(); !basic || u != user || p != pass {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"type":"com.vmware.vapi.std.errors.unauthenticated","value":{"messages":[]}}`)
		return
	}
	c := &capture{ResponseWriter: w, status: http.StatusOK}
	next.ServeHTTP(c, r)
	var answer struct {
		Value string `json:"value"`
	}
	if c.status == http.StatusOK && json.Unmarshal(c.body.Bytes(), &answer) == nil && answer.Value != "" {
		s.Lock()
		s.open[answer.Value] = true
		s.Unlock()
	}
}

// ovfUpdate: vapi/simulator answers nothing (an empty 200) when CreateOVF targets an existing
// library item; vCenter replaces the item's content and answers a CreateResult. The item must
// exist (asked of the simulator with the caller's session).
func ovfUpdate(next http.Handler, w http.ResponseWriter, r *http.Request) bool {
	body, err := ioutil.ReadAll(r.Body)
	_ = r.Body.Close()
	r.Body = ioutil.NopCloser(bytes.NewReader(body))
	if err != nil {
		return false
	}
	var req struct {
		Target struct {
			ItemID string `json:"library_item_id"`
		} `json:"target"`
	}
	if json.Unmarshal(body, &req) != nil || req.Target.ItemID == "" {
		return false
	}
	get, _ := http.NewRequest(http.MethodGet, restItem+req.Target.ItemID, nil)
	get.Header.Set(restSessionKey, r.Header.Get(restSessionKey))
	for _, c := range r.Cookies() {
		get.AddCookie(c)
	}
	probe := &capture{ResponseWriter: discard{}, status: http.StatusOK}
	next.ServeHTTP(probe, get)
	w.Header().Set("Content-Type", "application/json")
	if probe.status != http.StatusOK {
		w.WriteHeader(probe.status)
		return true
	}
	_ = json.NewEncoder(w).Encode(map[string]interface{}{
		"value": map[string]interface{}{"succeeded": true, "ovf_library_item_id": req.Target.ItemID},
	})
	return true
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// frontDoor logs SOAP requests and refuses /folder/ requests (datastore files) without a live
// session cookie or HTTP basic auth with the right credentials: 401, as vCenter answers
// (vcsim itself serves them to anyone). It holds the REST login to the same credentials and
// completes the simulator's OVF item update.
func frontDoor(next http.Handler, log *soapLog, rest *restSessions, user, pass string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.record(r)
		if r.URL.Path == restSession && r.URL.Query().Get("~action") == "" {
			switch r.Method {
			case http.MethodPost:
				rest.login(next, w, r, user, pass)
				return
			case http.MethodDelete:
				rest.Lock()
				delete(rest.open, r.Header.Get(restSessionKey))
				rest.Unlock()
			}
		}
		if r.URL.Path == restOVFItem && r.Method == http.MethodPost && ovfUpdate(next, w, r) {
			return
		}
		if strings.HasPrefix(r.URL.Path, "/folder/") {
			ok := false
			if cookie, err := r.Cookie(soap.SessionCookieName); err == nil {
				ok = simulator.PybuildSessionActive(cookie.Value)
			}
			if u, p, basic := r.BasicAuth(); basic {
				ok = ok || (u == user && p == pass)
			}
			if !ok {
				w.Header().Set("WWW-Authenticate", `Basic realm="VMware HTTP server"`)
				http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// newServer starts the model's server; vcsim panics when it cannot listen.
func newServer(model *simulator.Model) (server *simulator.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return model.Service.NewServer(), nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address:port to listen on (port 0: any free port)")
	user := flag.String("username", "", "the only user name accepted (required)")
	pass := flag.String("password", "", "its password (default: $VCSIM_PASSWORD; required)")
	soapLogPath := flag.String("soap-log", "", "file to append one line per SOAP call to: seconds, method, object, session, user agent")
	certOut := flag.String("cert", "", "file to write the server's TLS certificate to (PEM)")
	readyFile := flag.String("ready-file", "", "file to write the SDK URL to once listening")
	withParent := flag.Bool("exit-with-parent", false, "exit when the parent process goes away")
	flag.Parse()

	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		die("-listen %q: %v", *listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		die("-listen %q: only loopback addresses are allowed", *listen)
	}
	if *pass == "" {
		*pass = os.Getenv("VCSIM_PASSWORD")
	}
	if *user == "" || *pass == "" {
		die("-username and a password (-password or VCSIM_PASSWORD) are required")
	}

	model := simulator.VPX()
	if err := model.Create(); err != nil {
		die("creating the VPX model: %v", err)
	}
	simulator.PybuildFixTaskEntities()
	model.Service.TLS = new(tls.Config)    // the simulator's self-signed certificate
	model.Service.RegisterEndpoints = true // the vAPI REST simulator (/rest)
	model.Service.Listen = &url.URL{Host: *listen}
	// A fresh Userinfo (not simulator.DefaultLogin) makes Login compare user and password.
	model.Service.Listen.User = url.UserPassword(*user, *pass)

	var calls *soapLog
	if *soapLogPath != "" {
		f, err := os.OpenFile(*soapLogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			die("-soap-log: %v", err)
		}
		defer f.Close()
		calls = &soapLog{w: f, start: time.Now()}
	}
	model.Service.HandleFunc("/pybuild/usb-scan-codes", simulator.PybuildServeUsbScanCodes)
	model.Service.HandleFunc("/pybuild/sessions", simulator.PybuildServeSessions)
	model.Service.HandleFunc("/pybuild/sessions/drop", simulator.PybuildServeSessions)
	model.Service.HandleFunc("/pybuild-nfc/", simulator.PybuildServeExport)
	rest := &restSessions{open: map[string]bool{}}
	model.Service.HandleFunc("/pybuild/rest-sessions", rest.serve)

	server, err := newServer(model)
	if err != nil {
		model.Remove()
		die("-listen %s: %v", *listen, err)
	}
	// Set before anyone knows the address (the ready file comes after).
	server.Config.Handler = frontDoor(server.Config.Handler, calls, rest, *user, *pass)
	sdk := *server.URL
	sdk.User = nil

	if *certOut != "" {
		block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: server.Certificate().Raw})
		if err := writeAtomically(*certOut, block); err != nil {
			die("-cert: %v", err)
		}
	}
	if *readyFile != "" {
		if err := writeAtomically(*readyFile, []byte(sdk.String()+"\n")); err != nil {
			die("-ready-file: %v", err)
		}
	}
	fmt.Println(sdk.String())
	fmt.Fprintf(os.Stderr, "pybuild-vcsim: listening on %s (datastore under %s)\n",
		sdk.String(), filepath.Clean(os.TempDir()))

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	if *withParent {
		parent := os.Getppid()
		go func() {
			for range time.Tick(500 * time.Millisecond) {
				if os.Getppid() != parent {
					stop <- syscall.SIGTERM
					return
				}
			}
		}()
	}
	<-stop
	server.Close()
	model.Remove() // deletes the datastore directories
}
