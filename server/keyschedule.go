package server

import (
	"github.com/authserver/authserver/authserver/signingkeys"
)

// validateKeySchedule checks that the signing-key schedule can never make
// a well-behaved verifier fail (docs/architecture.md, "Signing-key
// rotation"): the next key is
// in every instance's JWKS (ReloadInterval) and every verifier's cache
// (JWKSMaxAge) before it signs; a retired key stays published until every
// token it signed has expired, including tokens another instance signed
// with it until it reloaded.
func (c *Config) validateKeySchedule(bad func(format string, args ...any)) {
	k := c.Keys
	if k.RotationPeriod < 0 {
		bad("keys.rotation_period must be 0 (no time-based rotation) or a positive duration")
	}
	if k.PublishAhead > 0 && k.JWKSMaxAge > 0 && k.PublishAhead < k.JWKSMaxAge+k.ReloadInterval {
		bad("keys.publish_ahead (%v) must be at least keys.jwks_max_age + keys.reload_interval (%v): verifiers cache the JWKS that long",
			k.PublishAhead, k.JWKSMaxAge+k.ReloadInterval)
	}
	if k.RotationPeriod > 0 && k.RotationPeriod < k.PublishAhead {
		bad("keys.rotation_period (%v) must be at least keys.publish_ahead (%v)", k.RotationPeriod, k.PublishAhead)
	}
	if minimum := signingkeys.MaxTokenLifetime + k.ReloadInterval + signingkeys.ClockSkewLeeway; k.Retention > 0 && k.Retention < minimum {
		bad("keys.retention (%v) must be at least the longest token lifetime (%v) + keys.reload_interval + %v leeway = %v",
			k.Retention, signingkeys.MaxTokenLifetime, signingkeys.ClockSkewLeeway, minimum)
	}
}
