package printer

import (
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestIngressClassTable(t *testing.T) {
	wake := &networkingv1.IngressClass{TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "IngressClass"},
		ObjectMeta: objMeta("wake", "", 2*time.Hour), Spec: networkingv1.IngressClassSpec{Controller: "wake.run/ingress-controller"}}
	nginx := &networkingv1.IngressClass{TypeMeta: wake.TypeMeta, ObjectMeta: objMeta("nginx", "", 3*time.Minute),
		Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx",
			Parameters: &networkingv1.IngressClassParametersReference{APIGroup: ptr("k8s.example.com"), Kind: "IngressParameters", Name: "external-lb"}}}
	want := text(
		"NAME    CONTROLLER                    PARAMETERS                                      AGE",
		"wake    wake.run/ingress-controller   <none>                                          120m",
		"nginx   k8s.io/ingress-nginx          IngressParameters.k8s.example.com/external-lb   3m",
	)
	if got := print(t, []runtime.Object{wake, nginx}, Options{}); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
