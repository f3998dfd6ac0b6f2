// pybuild test-harness extension of the govmomi simulator (not part of govmomi).
//
// tests/testbed/vsphere.sh builds the launcher against a copy of Debian's
// github.com/vmware/govmomi/simulator package (govmomi 0.24) with this file added, so that the
// methods below are dispatched like the simulator's own: same session check, same object
// locks, same SOAP faults. They fill in what govmomi 0.24 does not implement and the vSphere
// builders call:
//
//   - VirtualMachine.PutUsbScanCodes: records every key event it receives (readable over
//     GET /pybuild/usb-scan-codes) and returns the number of events, as vSphere does.
//     A VM that is not powered on refuses it (InvalidPowerState).
//   - VirtualMachine.ExportVm: an HttpNfcLease, ready at once, with one device URL per
//     file-backed device (disks, and ISO/floppy images) that serves the file over HTTPS
//     (GET https://*/pybuild-nfc/<random token>/<file>; "*" stands for the host the client
//     connected to, as ESXi reports it). The URLs stop answering once the lease is completed
//     or aborted.
//     The VM must be powered off (InvalidPowerState otherwise).
//   - OvfManager.CreateDescriptor: an OVF 1.0 envelope for a VM (name, CPUs, memory, disks
//     matched to the exported files by device key, networks, annotation).
//
// One fix: a task's info.entity is left unset where vcsim would name an object that is not a
// ManagedEntity (FileManager.DeleteDatastoreFile_Task etc.), as vCenter does; pyvmomi cannot
// read those tasks otherwise.
//
// And for the tests: the method and object of a SOAP request, for the launcher's call log
// (PybuildSoapMethod), the sessions
// that are open (GET /pybuild/sessions), and dropping them all (POST /pybuild/sessions/drop)
// to play a vCenter that forgot the build's session.
package simulator

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"github.com/vmware/govmomi/vim25/xml"
)

// --- SOAP call log --------------------------------------------------------------------------

// PybuildSoapMethod returns the name of the first element in a SOAP request's Body and its
// _this reference as "Type:value" ("?" and "-" when the body cannot be read).
func PybuildSoapMethod(body []byte) (string, string) {
	return pybuildSoapMethod(body)
}

// pybuildSoapMethod returns the name of the first element in the SOAP Body and its _this
// reference ("?" when the body cannot be read).
func pybuildSoapMethod(body []byte) (string, string) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	method, this := "?", "-"
	inBody, inThis := false, false
	var thisType string
	for {
		tok, err := dec.Token()
		if err != nil {
			return method, this
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case !inBody && t.Name.Local == "Body":
				inBody = true
			case inBody && method == "?":
				method = t.Name.Local
			case inBody && t.Name.Local == "_this":
				inThis = true
				for _, a := range t.Attr {
					if a.Name.Local == "type" {
						thisType = a.Value
					}
				}
			}
		case xml.CharData:
			if inThis {
				this = thisType + ":" + strings.TrimSpace(string(t))
				return method, this
			}
		case xml.EndElement:
			if inThis {
				return method, thisType + ":"
			}
		}
	}
}

// --- PutUsbScanCodes ------------------------------------------------------------------------

type pybuildKeyEvent struct {
	UsbHidCode int32    `json:"usbHidCode"`
	Usage      int32    `json:"usage"` // usbHidCode >> 16: the HID usage ID (usbHidCode & 0xffff is 7)
	Modifiers  []string `json:"modifiers"`
}

type pybuildScanCall struct {
	VM     string            `json:"vm"` // managed object id, e.g. "vm-57"
	Name   string            `json:"name"`
	Events []pybuildKeyEvent `json:"events"`
}

var pybuildScanCodes struct {
	sync.Mutex
	calls []pybuildScanCall
}

func pybuildModifiers(m *types.UsbScanCodeSpecModifierType) []string {
	names := []string{}
	if m == nil {
		return names
	}
	for _, f := range []struct {
		name string
		on   *bool
	}{
		{"leftControl", m.LeftControl}, {"leftShift", m.LeftShift}, {"leftAlt", m.LeftAlt},
		{"leftGui", m.LeftGui}, {"rightControl", m.RightControl}, {"rightShift", m.RightShift},
		{"rightAlt", m.RightAlt}, {"rightGui", m.RightGui},
	} {
		if f.on != nil && *f.on {
			names = append(names, f.name)
		}
	}
	return names
}

// PutUsbScanCodes (pybuild extension) records the key events and returns their number.
func (vm *VirtualMachine) PutUsbScanCodes(ctx *Context, req *types.PutUsbScanCodes) soap.HasFault {
	body := new(methods.PutUsbScanCodesBody)
	if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		body.Fault_ = Fault("", &types.InvalidPowerState{
			RequestedState: types.VirtualMachinePowerStatePoweredOn,
			ExistingState:  vm.Runtime.PowerState,
		})
		return body
	}
	call := pybuildScanCall{VM: vm.Self.Value, Name: vm.Name, Events: []pybuildKeyEvent{}}
	for _, e := range req.Spec.KeyEvents {
		call.Events = append(call.Events, pybuildKeyEvent{
			UsbHidCode: e.UsbHidCode,
			Usage:      e.UsbHidCode >> 16,
			Modifiers:  pybuildModifiers(e.Modifiers),
		})
	}
	pybuildScanCodes.Lock()
	pybuildScanCodes.calls = append(pybuildScanCodes.calls, call)
	pybuildScanCodes.Unlock()
	body.Res = &types.PutUsbScanCodesResponse{Returnval: int32(len(req.Spec.KeyEvents))}
	return body
}

// PybuildServeUsbScanCodes: GET /pybuild/usb-scan-codes[?vm=NAME-or-ID] answers
// {"calls": [{"vm", "name", "events": [{"usbHidCode", "usage", "modifiers"}]}]},
// one entry per PutUsbScanCodes call, oldest first.
func PybuildServeUsbScanCodes(w http.ResponseWriter, r *http.Request) {
	want := r.URL.Query().Get("vm")
	pybuildScanCodes.Lock()
	calls := []pybuildScanCall{}
	for _, c := range pybuildScanCodes.calls {
		if want == "" || want == c.Name || want == c.VM {
			calls = append(calls, c)
		}
	}
	pybuildScanCodes.Unlock()
	pybuildJSON(w, map[string]interface{}{"calls": calls})
}

// --- ExportVm -------------------------------------------------------------------------------

const pybuildNfcPrefix = "/pybuild-nfc/"

type pybuildExport struct {
	lease types.ManagedObjectReference
	files map[string]string // file name -> host path
}

var pybuildExports sync.Map // URL token -> *pybuildExport

func pybuildToken() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

type pybuildDevice struct {
	key    string // the lease's DeviceUrl.Key and the OvfFile.DeviceId
	device types.BaseVirtualDevice
	file   string // host path of the backing file
	name   string // its base name
}

// pybuildFileDevices lists the VM's file-backed devices, keyed "/<vm id>/<kind>:<n>".
func pybuildFileDevices(vm *VirtualMachine) []pybuildDevice {
	devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
	count := map[string]int{}
	var out []pybuildDevice
	for _, d := range devices {
		info, ok := d.GetVirtualDevice().Backing.(types.BaseVirtualDeviceFileBackingInfo)
		if !ok {
			continue
		}
		var file object.DatastorePath
		if !file.FromString(info.GetVirtualDeviceFileBackingInfo().FileName) {
			continue
		}
		host := Map.Get(*vm.Runtime.Host).(*HostSystem)
		ds, ok := Map.FindByName(file.Datastore, host.Datastore).(*Datastore)
		if !ok {
			continue
		}
		kind := devices.Type(d)
		n := count[kind]
		count[kind]++
		out = append(out, pybuildDevice{
			key:    fmt.Sprintf("/%s/%s:%d", vm.Self.Value, kind, n),
			device: d,
			file:   path.Join(ds.Info.GetDatastoreInfo().Url, file.Path),
			name:   path.Base(file.Path),
		})
	}
	return out
}

// ExportVm (pybuild extension) returns a ready HttpNfcLease serving the VM's files.
func (vm *VirtualMachine) ExportVm(ctx *Context, req *types.ExportVm) soap.HasFault {
	body := new(methods.ExportVmBody)
	if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
		body.Fault_ = Fault("", &types.InvalidPowerState{
			RequestedState: types.VirtualMachinePowerStatePoweredOff,
			ExistingState:  vm.Runtime.PowerState,
		})
		return body
	}
	lease := NewHttpNfcLease(ctx, vm.Self)
	ref := lease.Reference()
	lease.Info.Lease = ref
	lease.InitializeProgress = 100
	token := pybuildToken()
	export := &pybuildExport{lease: ref, files: map[string]string{}}
	var capacityKB int64
	for _, d := range pybuildFileDevices(vm) {
		size := int64(0)
		if st, err := os.Stat(d.file); err == nil {
			size = st.Size()
		}
		disk, isDisk := d.device.(*types.VirtualDisk)
		if isDisk {
			capacityKB += disk.CapacityInKB
		}
		export.files[d.name] = d.file
		lease.Info.DeviceUrl = append(lease.Info.DeviceUrl, types.HttpNfcLeaseDeviceUrl{
			Key:       d.key,
			ImportKey: d.key,
			Url:       "https://*" + pybuildNfcPrefix + token + "/" + d.name,
			Disk:      types.NewBool(isDisk),
			TargetId:  d.name,
			FileSize:  size,
		})
	}
	lease.Info.TotalDiskCapacityInKB = capacityKB
	pybuildExports.Store(token, export)
	body.Res = &types.ExportVmResponse{Returnval: ref}
	return body
}

// PybuildServeExport: GET /pybuild-nfc/<token>/<file> while the lease is open.
func PybuildServeExport(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, pybuildNfcPrefix), "/")
	if len(parts) != 2 || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	value, ok := pybuildExports.Load(parts[0])
	if !ok {
		http.NotFound(w, r)
		return
	}
	export := value.(*pybuildExport)
	if _, open := nfcLease.Load(export.lease); !open { // completed or aborted
		pybuildExports.Delete(parts[0])
		http.NotFound(w, r)
		return
	}
	file, ok := export.files[parts[1]]
	if !ok {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(file)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// --- OvfManager.CreateDescriptor ------------------------------------------------------------

func pybuildEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// CreateDescriptor (pybuild extension) describes a VM as an OVF 1.0 envelope.
func (m *OvfManager) CreateDescriptor(ctx *Context, req *types.CreateDescriptor) soap.HasFault {
	body := new(methods.CreateDescriptorBody)
	vm, ok := Map.Get(req.Obj).(*VirtualMachine)
	if !ok {
		body.Fault_ = Fault("", &types.ManagedObjectNotFound{Obj: req.Obj})
		return body
	}
	var desc string
	Map.WithLock(vm, func() { desc = pybuildOvf(vm, req.Cdp) })
	body.Res = &types.CreateDescriptorResponse{
		Returnval: types.OvfCreateDescriptorResult{OvfDescriptor: desc},
	}
	return body
}

func pybuildOvf(vm *VirtualMachine, cdp types.OvfCreateDescriptorParams) string {
	name := cdp.Name
	if name == "" {
		name = vm.Name
	}
	byDevice := map[string]types.OvfFile{}
	for _, f := range cdp.OvfFiles {
		byDevice[f.DeviceId] = f
	}
	var refs, disks, items strings.Builder
	instance := 1
	item := func(resourceType int, elementName, extra string) int {
		id := instance
		instance++
		fmt.Fprintf(&items, "      <Item>\n        <rasd:ElementName>%s</rasd:ElementName>\n"+
			"        <rasd:InstanceID>%d</rasd:InstanceID>\n%s"+
			"        <rasd:ResourceType>%d</rasd:ResourceType>\n      </Item>\n",
			pybuildEscape(elementName), id, extra, resourceType)
		return id
	}
	cpus := vm.Config.Hardware.NumCPU
	item(3, fmt.Sprintf("%d virtual CPU(s)", cpus),
		"        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>\n"+
			fmt.Sprintf("        <rasd:VirtualQuantity>%d</rasd:VirtualQuantity>\n", cpus))
	mem := vm.Config.Hardware.MemoryMB
	item(4, fmt.Sprintf("%dMB of memory", mem),
		"        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>\n"+
			fmt.Sprintf("        <rasd:VirtualQuantity>%d</rasd:VirtualQuantity>\n", mem))
	controller := item(6, "SCSI Controller 0",
		"        <rasd:ResourceSubType>lsilogic</rasd:ResourceSubType>\n")
	n := 0
	for _, d := range pybuildFileDevices(vm) {
		disk, isDisk := d.device.(*types.VirtualDisk)
		file, exported := byDevice[d.key]
		if !isDisk || !exported {
			continue
		}
		n++
		fmt.Fprintf(&refs, "    <File ovf:href=\"%s\" ovf:id=\"file%d\" ovf:size=\"%d\"/>\n",
			pybuildEscape(file.Path), n, file.Size)
		fmt.Fprintf(&disks, "    <Disk ovf:capacity=\"%d\" ovf:capacityAllocationUnits=\"byte * 2^10\" "+
			"ovf:diskId=\"vmdisk%d\" ovf:fileRef=\"file%d\" "+
			"ovf:format=\"http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized\"/>\n",
			disk.CapacityInKB, n, n)
		item(17, fmt.Sprintf("Hard disk %d", n), fmt.Sprintf(
			"        <rasd:AddressOnParent>%d</rasd:AddressOnParent>\n"+
				"        <rasd:HostResource>ovf:/disk/vmdisk%d</rasd:HostResource>\n"+
				"        <rasd:Parent>%d</rasd:Parent>\n", n-1, n, controller))
	}
	var networks []string
	seen := map[string]bool{}
	for _, ref := range vm.Network {
		e, ok := Map.Get(ref).(mo.Entity)
		if !ok {
			continue
		}
		netName := entityName(e)
		if !seen[netName] {
			seen[netName] = true
			networks = append(networks, netName)
		}
	}
	sort.Strings(networks)
	var nets strings.Builder
	for i, nw := range networks {
		fmt.Fprintf(&nets, "    <Network ovf:name=\"%s\">\n      <Description>The %s network</Description>\n    </Network>\n",
			pybuildEscape(nw), pybuildEscape(nw))
		item(10, fmt.Sprintf("Network adapter %d", i+1), fmt.Sprintf(
			"        <rasd:AddressOnParent>%d</rasd:AddressOnParent>\n"+
				"        <rasd:Connection>%s</rasd:Connection>\n", 7+i, pybuildEscape(nw)))
	}
	annotation := ""
	if vm.Config.Annotation != "" {
		annotation = fmt.Sprintf("    <AnnotationSection>\n      <Info>A human-readable annotation</Info>\n"+
			"      <Annotation>%s</Annotation>\n    </AnnotationSection>\n", pybuildEscape(vm.Config.Annotation))
	}
	version := vm.Config.Version
	if version == "" {
		version = "vmx-13"
	}
	return fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<!--Generated by the pybuild vcsim test-harness extension-->
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <References>
%s  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
%s  </DiskSection>
  <NetworkSection>
    <Info>The list of logical networks</Info>
%s  </NetworkSection>
  <VirtualSystem ovf:id="%s">
    <Info>A virtual machine</Info>
    <Name>%s</Name>
%s    <OperatingSystemSection ovf:id="1" vmw:osType="%s">
      <Info>The kind of installed guest operating system</Info>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>%s</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>%s</vssd:VirtualSystemType>
      </System>
%s    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
`, refs.String(), disks.String(), nets.String(), pybuildEscape(name), pybuildEscape(name), annotation,
		pybuildEscape(vm.Config.GuestId), pybuildEscape(name), pybuildEscape(version), items.String())
}

// --- sessions -------------------------------------------------------------------------------

// PybuildServeSessions: GET /pybuild/sessions lists the open sessions as
// {"sessions": [{"user", "id"}]} (id: the first 8 characters of the session key);
// POST /pybuild/sessions/drop ends them all, as a vCenter restart would: {"dropped": N}.
func PybuildServeSessions(w http.ResponseWriter, r *http.Request) {
	sm := Map.SessionManager()
	sessionMutex.Lock()
	defer sessionMutex.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/pybuild/sessions":
		list := []map[string]string{}
		for key, s := range sm.sessions {
			list = append(list, map[string]string{"user": s.UserName, "id": key[:8]})
		}
		sort.Slice(list, func(i, j int) bool { return list[i]["id"] < list[j]["id"] })
		pybuildJSON(w, map[string]interface{}{"sessions": list})
	case r.Method == http.MethodPost && r.URL.Path == "/pybuild/sessions/drop":
		n := len(sm.sessions)
		for key := range sm.sessions {
			delete(sm.sessions, key)
		}
		pybuildJSON(w, map[string]interface{}{"dropped": n})
	default:
		http.NotFound(w, r)
	}
}

func pybuildJSON(w http.ResponseWriter, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// PybuildSessionActive tells whether key (a vmware_soap_session cookie) is a live session.
func PybuildSessionActive(key string) bool {
	_, ok := Map.SessionManager().getSession(key)
	return ok
}

// --- task entities --------------------------------------------------------------------------

// pybuildTaskEntities clears TaskInfo.entity where vcsim sets it to an object that is not a
// ManagedEntity (FileManager, VirtualDiskManager, HostDatastoreBrowser, ...): the property is
// typed ManagedEntity, vCenter leaves it unset there, and pyvmomi refuses to read such a task.
type pybuildTaskEntities struct{}

func (pybuildTaskEntities) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "PybuildTaskEntities", Value: "pybuild"}
}

func (pybuildTaskEntities) PutObject(obj mo.Reference) {
	task, ok := obj.(*Task)
	if !ok || task.Info.Entity == nil {
		return
	}
	if _, entity := Map.Get(*task.Info.Entity).(mo.Entity); !entity {
		task.Info.Entity = nil
		task.Info.EntityName = ""
	}
}

func (pybuildTaskEntities) UpdateObject(mo.Reference, []types.PropertyChange) {}

func (pybuildTaskEntities) RemoveObject(types.ManagedObjectReference) {}

// PybuildFixTaskEntities installs the fix above; call after Model.Create.
func PybuildFixTaskEntities() {
	Map.AddHandler(pybuildTaskEntities{})
}
