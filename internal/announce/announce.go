// Package announce sends unsolicited (gratuitous) ARP requests for the IPv4
// addresses of the network namespace it runs in. tarsup's probe sidecar runs
// it in a new container's namespace as soon as that container starts.
//
// Why: when a container stops, the host may forget the address's neighbour
// entry (a bridge that loses its last port drops its carrier, and the kernel
// flushes the entries); a client's next packet then waits for an ARP retry,
// one second apart, although the new container already answers. Docker 28
// (API 1.48) announces a new interface's addresses itself; engines before it
// do not. An announcement updates every cache that holds the address, the
// host's and the other containers' on the bridge, and changes nothing else.
package announce

import (
	"encoding/binary"
	"fmt"
	"net"
)

// Target is one interface address to announce.
type Target struct {
	Index int              // interface index
	Name  string           // interface name, for messages
	MAC   net.HardwareAddr // the interface's hardware address
	IP    net.IP           // an IPv4 address on it
}

// Targets lists the IPv4 addresses of the up, non-loopback interfaces with
// an Ethernet address: what a container's namespace has on its networks.
func Targets() ([]Target, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var out []Target
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 || len(i.HardwareAddr) != 6 {
			continue
		}
		addrs, err := i.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", i.Name, err)
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok || n.IP.To4() == nil {
				continue
			}
			out = append(out, Target{Index: i.Index, Name: i.Name, MAC: i.HardwareAddr, IP: n.IP.To4()})
		}
	}
	return out, nil
}

// Packet is the ARP payload of a gratuitous ARP request for t: sender and
// target address both t.IP, sender hardware address t.MAC (RFC 5227 §3,
// "ARP Announcement").
func Packet(t Target) []byte {
	p := make([]byte, 28)
	binary.BigEndian.PutUint16(p[0:], 1)      // hardware type: Ethernet
	binary.BigEndian.PutUint16(p[2:], 0x0800) // protocol type: IPv4
	p[4], p[5] = 6, 4                         // address lengths
	binary.BigEndian.PutUint16(p[6:], 1)      // operation: request
	copy(p[8:14], t.MAC)
	copy(p[14:18], t.IP.To4())
	// target hardware address stays zero (ignored in a request)
	copy(p[24:28], t.IP.To4())
	return p
}
