package secrets

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	corev1 "k8s.io/api/core/v1"
)

// SubjectSeal is where writers ask to seal a Secret before appending it.
const SubjectSeal = "wake.secrets.seal"

// SealRequest carries a Secret object (with its uid) and, optionally, its applied
// configuration, both in clear text.
type SealRequest struct {
	Object  json.RawMessage `json:"object"`
	Applied json.RawMessage `json:"applied,omitempty"`
}

// SealResponse carries the sealed forms, or an error.
type SealResponse struct {
	Object  json.RawMessage `json:"object,omitempty"`
	Applied json.RawMessage `json:"applied,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// Serve answers seal requests until the subscription is drained. It returns once
// the server has taken the subscription, so a request sent after it is answered.
func Serve(nc *nats.Conn, k *Keyring) (*nats.Subscription, error) {
	sub, err := nc.QueueSubscribe(SubjectSeal, "wake.secrets", func(m *nats.Msg) {
		resp := handleSeal(k, m.Data)
		data, _ := json.Marshal(resp)
		_ = m.Respond(data)
	})
	if err != nil {
		return nil, fmt.Errorf("secrets service: subscribe %s: %w", SubjectSeal, err)
	}
	if err := nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("secrets service: subscription not confirmed by the server: %w", err)
	}
	return sub, nil
}

func handleSeal(k *Keyring, data []byte) *SealResponse {
	var req SealRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return &SealResponse{Error: "malformed seal request: " + err.Error()}
	}
	var s corev1.Secret
	if err := json.Unmarshal(req.Object, &s); err != nil {
		return &SealResponse{Error: "seal: not a Secret: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sealed, applied, err := k.Seal(ctx, &s, req.Applied)
	if err != nil {
		return &SealResponse{Error: err.Error()}
	}
	obj, err := json.Marshal(sealed)
	if err != nil {
		return &SealResponse{Error: err.Error()}
	}
	return &SealResponse{Object: obj, Applied: applied}
}

// Seal asks the server to seal a Secret's object and applied configuration.
func Seal(ctx context.Context, nc *nats.Conn, object, applied json.RawMessage) (json.RawMessage, json.RawMessage, error) {
	data, _ := json.Marshal(SealRequest{Object: object, Applied: applied})
	msg, err := nc.RequestWithContext(ctx, SubjectSeal, data)
	if err != nil {
		return nil, nil, fmt.Errorf("seal secret: %w", err)
	}
	var resp SealResponse
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, nil, fmt.Errorf("seal secret: malformed answer: %w", err)
	}
	if resp.Error != "" {
		return nil, nil, fmt.Errorf("seal secret: %s", resp.Error)
	}
	return resp.Object, resp.Applied, nil
}
