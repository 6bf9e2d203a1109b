package tokens

import (
	"github.com/authserver/authserver/authserver/assertion"
	"github.com/authserver/authserver/authserver/clientauth"
	"github.com/authserver/authserver/authserver/clients"
)

// Metadata is the authorization server metadata document (RFC 8414 §2),
// served at /.well-known/oauth-authorization-server and, the same bytes,
// at /.well-known/openid-configuration (RFC 8414 §5), where OpenID
// Connect clients look. Every endpoint the server has is discoverable from
// it; it names no OpenID Connect feature (no ID tokens, no userinfo
// endpoint). Fields: docs/metadata.md.
type Metadata struct {
	Issuer                                     string   `json:"issuer"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	ScopesSupported                            []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint,omitempty"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported,omitempty"`
	// IntrospectionEndpointAuthSigningAlgValuesSupported is REQUIRED
	// since the introspection endpoint takes private_key_jwt and
	// client_secret_jwt (RFC 8414 §2).
	IntrospectionEndpointAuthSigningAlgValuesSupported []string `json:"introspection_endpoint_auth_signing_alg_values_supported,omitempty"`
	RevocationEndpoint                                 string   `json:"revocation_endpoint,omitempty"`
	RevocationEndpointAuthMethodsSupported             []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
	// RevocationEndpointAuthSigningAlgValuesSupported: as for
	// introspection.
	RevocationEndpointAuthSigningAlgValuesSupported []string `json:"revocation_endpoint_auth_signing_alg_values_supported,omitempty"`
	// DPoPSigningAlgValuesSupported are the alg values DPoP proofs may
	// use at the token endpoint and /customer_authenticate (RFC 9449
	// §5.1): DPoP.Algorithms. Set by the server's wiring.
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported,omitempty"`
	// CustomerAuthenticateEndpoint is this server's end-user token
	// endpoint (docs/credentials.md, "Test users" and "Secure mode");
	// not an RFC 8414 name.
	CustomerAuthenticateEndpoint string `json:"customer_authenticate_endpoint,omitempty"`
	// CustomerAuthenticateGrantTypesSupported are the grant types the
	// customer_authenticate endpoint takes (CustomerGrantTypes); not an
	// RFC 8414 name.
	CustomerAuthenticateGrantTypesSupported []string `json:"customer_authenticate_grant_types_supported,omitempty"`
}

// NewMetadata returns the metadata of a server at issuer with the endpoints
// built so far. Paths are fixed by the handlers package.
func NewMetadata(issuer string) Metadata {
	m := Metadata{
		Issuer:                            issuer,
		TokenEndpoint:                     issuer + "/oauth2/token",
		JWKSURI:                           issuer + "/.well-known/jwks.json",
		ResponseTypesSupported:            []string{},
		GrantTypesSupported:               []string{"client_credentials", clients.GrantTypeJWTBearer},
		TokenEndpointAuthMethodsSupported: []string{clientauth.AuthMethodBasic, clientauth.AuthMethodPost, clientauth.AuthMethodPrivateKeyJWT, clientauth.AuthMethodClientSecretJWT},
		TokenEndpointAuthSigningAlgValuesSupported: assertion.AssertionSigningAlgs(),
		CustomerAuthenticateEndpoint:               issuer + "/customer_authenticate",
		CustomerAuthenticateGrantTypesSupported:    CustomerGrantTypes,
		IntrospectionEndpoint:                      issuer + "/oauth2/introspect",
		RevocationEndpoint:                         issuer + "/oauth2/revoke",
	}
	// Introspection (RFC 7662) and revocation (RFC 7009) authenticate
	// clients exactly as the token endpoint does (clientauth.Authenticator),
	// with the same methods and the same assertion algorithms.
	m.IntrospectionEndpointAuthMethodsSupported = m.TokenEndpointAuthMethodsSupported
	m.IntrospectionEndpointAuthSigningAlgValuesSupported = m.TokenEndpointAuthSigningAlgValuesSupported
	m.RevocationEndpointAuthMethodsSupported = m.TokenEndpointAuthMethodsSupported
	m.RevocationEndpointAuthSigningAlgValuesSupported = m.TokenEndpointAuthSigningAlgValuesSupported
	return m
}
