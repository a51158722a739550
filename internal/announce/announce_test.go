package announce

import (
	"bytes"
	"net"
	"testing"
)

func TestPacket(t *testing.T) {
	mac, _ := net.ParseMAC("02:42:ac:1f:4d:03")
	p := Packet(Target{MAC: mac, IP: net.ParseIP("172.31.77.3")})
	want := []byte{0, 1, 8, 0, 6, 4, 0, 1,
		0x02, 0x42, 0xac, 0x1f, 0x4d, 0x03, 172, 31, 77, 3,
		0, 0, 0, 0, 0, 0, 172, 31, 77, 3}
	if !bytes.Equal(p, want) {
		t.Fatalf("packet\n got % x\nwant % x", p, want)
	}
}

func TestTargetsSkipLoopback(t *testing.T) {
	ts, err := Targets()
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ts {
		if x.IP.IsLoopback() || x.IP.To4() == nil || len(x.MAC) != 6 {
			t.Errorf("target %+v: want only IPv4 on Ethernet interfaces", x)
		}
	}
}
