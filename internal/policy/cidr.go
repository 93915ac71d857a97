package policy

import (
	"fmt"
	"net/netip"

	networkingv1 "k8s.io/api/networking/v1"
)

// inCIDR says whether ip lies in cidr; addresses of the other family, and unparsable input, never do.
func inCIDR(ip, cidr string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return false
	}
	return p.Contains(a.Unmap())
}

// blockResult is an ipBlock checked against an address.
type blockResult struct {
	ok bool
	// except is the except range that removed the address, if any.
	except string
	why    string
}

func checkIPBlock(b *networkingv1.IPBlock, ip string) blockResult {
	if ip == "" {
		return blockResult{why: fmt.Sprintf("the address is unknown, so ipBlock %s cannot be checked", b.CIDR)}
	}
	if !inCIDR(ip, b.CIDR) {
		return blockResult{why: fmt.Sprintf("%s is not in ipBlock %s", ip, b.CIDR)}
	}
	for _, ex := range b.Except {
		if inCIDR(ip, ex) {
			return blockResult{except: ex, why: fmt.Sprintf("%s is in ipBlock %s but also in its except %s", ip, b.CIDR, ex)}
		}
	}
	return blockResult{ok: true, why: fmt.Sprintf("%s is in ipBlock %s", ip, b.CIDR)}
}

// hostCIDR is the single-address CIDR of an IP.
func hostCIDR(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a.Is4() {
		return ip + "/32"
	}
	return ip + "/128"
}
