package announce

import (
	"errors"
	"fmt"
	"syscall"
)

const ethPArp = 0x0806

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Send broadcasts one announcement for each target. It needs CAP_NET_RAW in
// the namespace (Docker gives it to containers by default).
func Send(targets []Target) error {
	if len(targets) == 0 {
		return nil
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_DGRAM, int(htons(ethPArp)))
	if err != nil {
		return fmt.Errorf("announce: packet socket: %w", err)
	}
	defer syscall.Close(fd)
	var errs []error
	for _, t := range targets {
		to := &syscall.SockaddrLinklayer{Protocol: htons(ethPArp), Ifindex: t.Index, Halen: 6,
			Addr: [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
		if err := syscall.Sendto(fd, Packet(t), 0, to); err != nil {
			errs = append(errs, fmt.Errorf("announce %s on %s: %w", t.IP, t.Name, err))
		}
	}
	return errors.Join(errs...)
}
