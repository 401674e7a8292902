package object

import "testing"

func TestValidateEndpointSlice(t *testing.T) {
	runValidation(t, []validationCase{
		{name: "valid", kind: "EndpointSlice", manifest: `{metadata: {name: db-1, labels: {kubernetes.io/service-name: db}}, addressType: IPv4,
			ports: [{name: pg, port: 5432, protocol: TCP}],
			endpoints: [{addresses: [10.0.0.1], hostname: db-0, conditions: {ready: true}}, {addresses: [10.0.0.2]}]}`},
		{name: "address type required", kind: "EndpointSlice", manifest: `{metadata: {name: s}}`,
			want: []string{"addressType: Required value"}},
		{name: "addresses of the slice's type", kind: "EndpointSlice", manifest: `{metadata: {name: s}, addressType: IPv4,
			endpoints: [{addresses: ["fd00::1"]}, {addresses: []}, {addresses: [10.0.0.1], hostname: "Not_A_Label"}]}`,
			want: []string{"endpoints[0].addresses[0]: Invalid value: \"fd00::1\": must be an IPv4 address",
				"endpoints[1].addresses: Invalid value: 0: must hold 1 to 100 addresses",
				"endpoints[2].hostname: Invalid value: \"Not_A_Label\""}},
		{name: "ports", kind: "EndpointSlice", manifest: `{metadata: {name: s}, addressType: IPv4,
			ports: [{name: pg, port: 70000, protocol: TCP}, {name: pg, protocol: HTTP}]}`,
			want: []string{"ports[0].port: Invalid value: 70000", "ports[1].name: Duplicate value: \"pg\"", "ports[1].protocol: Unsupported value: \"HTTP\""}},
	})
}
