#!/usr/bin/env python3
"""Writes seed inputs from the unit tests' golden vectors (broker codecs, managed identity, claims,
emulator configuration, cache JSON) into fuzz/corpus/. Run from fuzz/."""
import hashlib, json, os, sys
sys.path.insert(0, '.')
from seed_corpora import save
acct = {"clientInfo":"eyJ1aWQiOiJvaWQiLCJ1dGlkIjoidGlkIn0","environment":"login.microsoftonline.com","familyName":"Example","givenName":"Alice","homeAccountId":"oid.tid","localAccountId":"oid","name":"Alice Example","passwordExpiry":0,"realm":"tid","username":"alice@contoso.example"}
# linux_broker: selector%4: 0 accounts, 1 silent, 2 interactive, 3 remove; &4 pop, &8 account
save("linux_broker", b"\x00" + json.dumps({"accounts":[acct]}).encode())
save("linux_broker", b"\x00" + json.dumps({"accounts":[]}).encode())
tok = {"brokerTokenResponse":{"accessToken":"eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.sig","accessTokenType":"bearer","expiresOn":1700003600000,"extendedExpiresOn":1700007200000,"grantedScopes":"User.Read openid profile","idToken":"eyJ0eXAiOiJKV1QifQ.eyJvaWQiOiJvaWQifQ.","clientInfo":acct["clientInfo"],"account":acct}}
save("linux_broker", b"\x01" + json.dumps(tok).encode())
save("linux_broker", b"\x0a" + json.dumps(tok).encode())
pop = json.loads(json.dumps(tok)); pop["brokerTokenResponse"]["accessTokenType"] = 1; pop["brokerTokenResponse"]["expiresOn"] = "1700003600"
save("linux_broker", b"\x05" + json.dumps(pop).encode())
save("linux_broker", b"\x01" + json.dumps({"brokerTokenResponse":{"error":{"context":"AADSTS50011: x","errorCode":50011,"status":9,"tag":508170375}}}).encode())
save("linux_broker", b"\x00" + json.dumps({"error":{"context":"no accounts","status":"19","subStatus":6}}).encode())
save("linux_broker", b"\x03" + b'{}')
save("linux_broker", b"\x03" + b'')
# emulator_broker_request: Method::ALL order: interactive, silent, getAccounts, removeAccount, prtSso, shr, cancel, version
silent = {"authParameters":{"accessTokenToRenew":"","account":dict(acct, alternativeAccountId="", homeEnvironment="", middleName="", passwordChangeUrl=""),
  "additionalQueryParametersForAuthorization":{"msal_client_sku":"MSAL.Python","msal_client_ver":"1.39.0"},
  "authority":"https://login.microsoftonline.com/common","authorizationType":1,"clientId":"04b07795-8ddb-461a-bbee-02f9e1bf7b46","decodedClaims":"","enrollmentId":"","isTestMode":False,
  "password":"","popParams":None,"redirectUri":"https://login.microsoftonline.com/common/oauth2/nativeclient","requestedScopes":["User.Read"],"username":"alice@contoso.example","uxContextHandle":-1}}
save("emulator_broker_request", b"\x01" + json.dumps(silent).encode())
inter = json.loads(json.dumps(silent)); inter["parentWindowHandle"] = 1; inter["authParameters"]["popParams"] = {"authenticationScheme":"pop","uriHost":"https://graph.microsoft.com/v1.0/me","httpMethod":"GET","nonce":"n","kid":"k"}
save("emulator_broker_request", b"\x00" + json.dumps(inter).encode())
save("emulator_broker_request", b"\x02" + b'{"clientId":"04b07795-8ddb-461a-bbee-02f9e1bf7b46","redirectUri":"04b07795-8ddb-461a-bbee-02f9e1bf7b46"}')
save("emulator_broker_request", b"\x03" + json.dumps({"clientId":"c","account":acct}).encode())
save("emulator_broker_request", b"\x04" + b'{"account":{"username":"a@b"},"authParameters":{"clientId":"c","authorizationType":8,"ssoUrl":"https://login.microsoftonline.com/?sso_nonce=abc"},"ssoUrl":"https://login.microsoftonline.com/","mamEnrollment":false}')
save("emulator_broker_request", b"\x05" + b'{"clientId":"c","popParams":{"authenticationScheme":"pop","uriHost":"https://x/y","httpMethod":"post","nonce":"n","kid":"k"}}')
save("emulator_broker_request", b"\x06" + b'{"authParameters":{"clientId":"c"}}')
save("emulator_broker_request", b"\x07" + b'{"msalCppVersion":"1.0.0"}')
# managed_identity: selector%8 source (0 imds,1 app service,2 cloud shell,3 ML,4 SF,5 arc,6 arc challenge,7 identity json); /8 identity
for src in range(6):
    save("managed_identity", bytes([src, 0, 2]) + b'{"access_token":"at","expires_in":"86399","expires_on":"1700086399","resource":"r","token_type":"Bearer","client_id":"client-id"}')
save("managed_identity", bytes([1, 0, 2]) + b'{"access_token":"a","expires_on":"1000","resource":"r","token_type":"Bearer"}')
save("managed_identity", bytes([3, 0, 2]) + b'{"access_token":"a","expires_on":1700003600,"resource":"r","token_type":"Bearer"}')
save("managed_identity", bytes([0, 1, 2]) + b'{"error":"invalid_request","error_description":"Identity not found"}')
save("managed_identity", bytes([1, 1, 2]) + b'{"statusCode":400,"message":"Unable to load the proper Managed Identity."}')
save("managed_identity", bytes([4, 2, 2]) + b'{"error":{"code":"SecretHeaderNotFound","message":"Secret is not found in the request headers."}}')
save("managed_identity", bytes([13, 0, 2]) + b'{"access_token":"a","expires_in":"3600","client_id":"C1"}')
save("managed_identity", bytes([6, 2, 0]) + b'')
save("managed_identity", bytes([6, 2, 1]) + b'Basic realm=/var/opt/azcmagent/tokens/x.key')
save("managed_identity", bytes([0, 5, 4]) + b'')
save("managed_identity", bytes([7, 0, 2]) + b'{"ManagedIdentityIdType": "ClientId", "Id": "0d8b"}')
save("managed_identity", bytes([7, 0, 2]) + b'{"ManagedIdentityIdType": "SystemAssigned", "Id": null}')
# id_token_claims
save("id_token_claims", '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}')
save("id_token_claims", '{"access_token":{"xms_cc":{"values":["CP1"]}},"id_token":{"auth_time":{"essential":true}}}')
save("id_token_claims", "eyJ1aWQiOiJvaWQiLCJ1dGlkIjoidGlkIn0")
save("id_token_claims", "header.eyJzdWIiOiAiczEiLCAicHJlZmVycmVkX3VzZXJuYW1lIjogImEifQ==.signature")
# emulator_config: 0 toml, 1 json
doc = open('../docs/emulator.md').read()
toml = doc.split('```toml\n',1)[1].split('```',1)[0].replace('certificates = [{ certificate_pem = "-----BEGIN CERTIFICATE-----\\n..." }]\n','')
save("emulator_config", b"\x00" + toml.encode())
save("emulator_config", b"\x01" + json.dumps({"tenants":[{"id":"11111111-2222-4333-8444-555555555555","domains":["example.test"]}],
  "applications":[{"client_id":"aaaaaaaa-0000-4000-8000-000000000001","kind":"public","redirect_uris":["http://localhost"]}],
  "users":[{"username":"erin@example.test","password":"pw","object_id":"bbbbbbbb-0000-4000-8000-000000000001","home_tenant":"11111111-2222-4333-8444-555555555555"}]}).encode())
# cache_json: MSAL .NET-ish/unknown sections and an empty cache
save("cache_json", "")
save("cache_json", '{"AccessToken":{},"Account":{},"IdToken":{},"RefreshToken":{},"AppMetadata":{}}')
save("cache_json", '{"AccessToken":{"k":{"credential_type":"AccessToken","secret":"s","home_account_id":"u.t","environment":"login.example","client_id":"c","target":"s1 s2","realm":"r","cached_at":"1000","expires_on":"4600","extended_expires_on":4600,"refresh_on":"2800","token_type":"Bearer","key_id":"k1","ext_cache_key":"x"}},"Account":{"a":[1,2]},"Extra":{"x":1},"RefreshToken":[],"AppMetadata":{"appmetadata-login.example-c":{"client_id":"c","environment":"login.example","family_id":"1"}}}')
