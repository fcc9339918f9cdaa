#!/usr/bin/env python3
"""Writes seed inputs from the unit tests' golden vectors (broker codecs, managed identity, claims,
emulator configuration, cache JSON) into fuzz/seeds/. Run from fuzz/."""
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
# macos_broker: selector%5: 0 token, 1 accounts, 2 sign-out, 3 NSError, 4 Info.plist; key=value lines
def kv(d): return "\n".join(f"{k}={v}" for k, v in d.items()).encode()
ci = "eyJ1aWQiOiJ1aWQxIiwidXRpZCI6InV0aWQxIn0"
idt = "eyJhbGciOiJub25lIn0.eyJvaWQiOiJ1aWQxIiwidGlkIjoidXRpZDEiLCJwcmVmZXJyZWRfdXNlcm5hbWUiOiJhbGljZUBjb250b3NvLmNvbSJ9."
mac_ok = {"operation_response_type":"operation_token_response","success":"1","access_token":"AT","token_type":"Bearer",
          "expires_on":"1900000000","ext_expires_on":"1900003600","scope":"User.Read openid","id_token":idt,
          "authority":"https://login.microsoftonline.com/utid1","client_info":ci}
save("macos_broker", b"\x00" + kv(mac_ok))
save("macos_broker", b"\x00" + kv({"success":"1","access_token":"AT","expires_in":"3600","authority":"https://login.microsoftonline.com/common","token_type":"pop"}))
save("macos_broker", b"\x00" + kv({"success":"0","error":"-50002","sub_error":"basic_action","error_description":"AADSTS50076: MFA"}))
save("macos_broker", b"\x01" + kv({"operation_response_type":"operation_get_accounts_response","success":"1",
      "accounts":json.dumps([{"home_account_id":"uid1.utid1","environment":"login.microsoftonline.com","username":"alice@contoso.com","realm":"utid1"}])}))
save("macos_broker", b"\x02" + kv({"success":"1"}))
save("macos_broker", b"\x03" + kv({"domain":"ASAuthorizationErrorDomain","code":"-6000","underlying.domain":"MSIDErrorDomain","underlying.code":"-51411","underlying.MSIDErrorDescriptionKey":"AADSTS50076"}))
save("macos_broker", b"\x03" + kv({"domain":"ASAuthorizationErrorDomain","code":"1001"}))
save("macos_broker", b"\x04" + b'<?xml version="1.0"?><plist version="1.0"><dict><key>CFBundleIdentifier</key><string>com.contoso.app</string></dict></plist>')
# windows_broker: selector%4: 0 MSA token, 1 WebTokenResponse (first line token), 2 status, 3 authority/account; 0x80 = MSA plugin
save("windows_broker", b"\x00access_token=AT&id_token=IT&token_type=bearer&scope=a%20b&client_info=CI&expires_in=3600&correlation=C")
save("windows_broker", b"\x81access_token=AT&token_type=bearer&scope=a%20b&expires_in=3600\naccount.Id=msa-id\naccount.UserName=bob@outlook.com\naccount.SafeCustomerId=540648eb0b3075bb")
save("windows_broker", b"\x01eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.sig\nAuthority=https://login.microsoftonline.com/tid1/\nTokenExpiresOn=13380000000\nwamcompat_id_token=" + idt.encode() + b"\nwamcompat_client_info=" + ci.encode() + b"\nwamcompat_scopes=User.Read\naccount.Id=wam-id\naccount.UserName=alice@contoso.com\naccount.Authority=https://login.microsoftonline.com/tid1\naccount.TenantId=tid1\naccount.OID=oid1")
save("windows_broker", b"\x02\x03\x00\x00\x00\x0b\x00\x04\x80AADSTS50076: MFA required")
save("windows_broker", b"\x03https://login.microsoftonline.com/consumers\naccount.Id=x\naccount.SafeCustomerId=540648eb0b3075bb")
# wsl_protocol: even = request line, odd = answer line
C = "0c4a2e6f-8b1d-4f3a-9e5c-7d2b1a0f9e11"
save("wsl_protocol", b"\x00" + b'{"v":1,"id":1,"op":"probe"}\n')
save("wsl_protocol", b"\x00" + json.dumps({"v":1,"id":2,"op":"accounts","client_id":C,"correlation_id":"c"}).encode())
save("wsl_protocol", b"\x00" + json.dumps({"v":1,"id":3,"op":"interactive","window":"console","request":{"client_id":C,
     "authority":"https://login.microsoftonline.com/common","scopes":["User.Read"],"redirect_uri":"ms-appx-web://Microsoft.AAD.BrokerPlugin/"+C,
     "correlation_id":"c0ffee00-0000-4000-8000-000000000001","login_hint":"alice@contoso.com","validate_authority":True}}).encode())
wacct = {"account_id":"wam-id","home_account_id":"oid.tid","local_account_id":"oid","environment":"login.microsoftonline.com","realm":"tid","username":"alice@contoso.com","name":"Alice"}
save("wsl_protocol", b"\x01" + b'{"v":1,"id":1,"ok":null}')
save("wsl_protocol", b"\x01" + json.dumps({"v":1,"id":2,"ok":[wacct]}).encode())
save("wsl_protocol", b"\x01" + json.dumps({"v":1,"id":3,"ok":{"access_token":"AT","token_type":"Bearer","expires_on":1900000000,"granted_scopes":["User.Read"],"account":wacct,"authority":"https://login.microsoftonline.com/tid"}}).encode())
save("wsl_protocol", b"\x01" + json.dumps({"v":1,"id":None,"err":{"platform":"WSL","status":"ApiContractViolation","error_code":0,"tag":0,"context":"bad line"}}).encode())
