package ref

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Ref
		err  bool
	}{
		{in: "pod/frontend-1", want: Ref{Kind: Pod, Namespace: "shop", Name: "frontend-1"}},
		{in: "payments/svc/orders:8443", want: Ref{Kind: Service, Namespace: "payments", NamespaceSet: true, Name: "orders", Port: 8443}},
		{in: "svc/cart:http", want: Ref{Kind: Service, Namespace: "shop", Name: "cart", PortName: "http"}},
		{in: "deployments/web", want: Ref{Kind: Deployment, Namespace: "shop", Name: "web"}},
		{in: "sts/db", want: Ref{Kind: StatefulSet, Namespace: "shop", Name: "db"}},
		{in: "node/node-a:30080", want: Ref{Kind: Node, Name: "node-a", Port: 30080}},
		{in: "outside", want: Ref{Kind: Outside, Namespace: "shop"}},
		{in: "cart:8080", want: Ref{Kind: DNSName, Namespace: "shop", Name: "cart", Port: 8080}},
		{in: "cart.shop.svc.cluster.local:8080", want: Ref{Kind: DNSName, Namespace: "shop", Name: "cart.shop.svc.cluster.local", Port: 8080}},
		{in: "10.96.4.7:80", want: Ref{Kind: Address, Namespace: "shop", Name: "10.96.4.7", Port: 80}},
		{in: "[fd00::7]:80", want: Ref{Kind: Address, Namespace: "shop", Name: "fd00::7", Port: 80}},
		{in: "http://cart.shop:8080/api", want: Ref{Kind: DNSName, Namespace: "shop", Name: "cart.shop", Port: 8080, Scheme: "http", Path: "/api"}},
		{in: "https://api.example.com/", want: Ref{Kind: DNSName, Namespace: "shop", Name: "api.example.com", Port: 443, Scheme: "https", Path: "/"}},
		{in: "10.96.4.7", err: true},
		{in: "widget/foo", err: true},
		{in: "svc/cart:99999", err: true},
		{in: "cart:0", err: true},
		{in: "", err: true},
		{in: "bad name:80", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in, "shop")
			if tt.err {
				if err == nil {
					t.Fatalf("Parse(%q) = %+v, want error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			got.Raw = ""
			if got != tt.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}
