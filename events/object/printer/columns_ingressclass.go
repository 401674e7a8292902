package printer

import (
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// ingressClassTable is kubectl's: NAME CONTROLLER PARAMETERS AGE.
var ingressClassTable = tableKind{
	columns: []column{{name: "Name"}, {name: "Controller"}, {name: "Parameters"}, {name: "Age"}},
	row: func(obj runtime.Object, ctx rowContext) ([]string, error) {
		c, ok := obj.(*networkingv1.IngressClass)
		if !ok {
			return nil, fmt.Errorf("expected *networking/v1.IngressClass, got %T", obj)
		}
		params := "<none>"
		if p := c.Spec.Parameters; p != nil {
			params = p.Kind
			if p.APIGroup != nil {
				params += "." + *p.APIGroup
			}
			params += "/" + p.Name
		}
		return []string{c.Name, c.Spec.Controller, params, Age(c.CreationTimestamp.Time, ctx.now)}, nil
	},
}
