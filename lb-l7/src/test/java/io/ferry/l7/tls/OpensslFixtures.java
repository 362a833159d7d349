package io.ferry.l7.tls;

/**
 * Keys and certificates made once with the OpenSSL 3.0 command line (valid for 100 years), so that the PEM reader
 * meets files it did not write. Commands:
 * <pre>
 * openssl genrsa -traditional -out rsa.key 2048
 * openssl req -x509 -new -key rsa.key -days 36500 -subj "/O=Openssl Fixture/CN=rsa.example.com" \
 *     -addext "subjectAltName=DNS:rsa.example.com,DNS:*.rsa.example.com"
 * openssl ecparam -name secp384r1 -genkey -out ec.key
 * openssl req -x509 -new -key ec.key -days 36500 -subj "/CN=Openssl Fixture CA"
 * openssl ecparam -name prime256v1 -genkey -noout -out leaf.key
 * openssl x509 -req (CSR for CN=chain.example.com) -CA ca.crt -CAkey ec.key -days 36500 \
 *     -extfile (subjectAltName=DNS:chain.example.com, CA:FALSE, serverAuth)
 * </pre>
 * The encrypted keys' passphrase is {@code x}. Test keys only: they protect nothing.
 */
final class OpensslFixtures {

    /** RSA 2048, PKCS#1 ({@code openssl genrsa -traditional}). */
    static final String RSA_PKCS1_KEY = """
-----BEGIN RSA PRIVATE KEY-----
MIIEogIBAAKCAQEAp12cSoE9VdQ4ZJrq8OvCJAOy7wQE82Uy1cl196dag4ziLVfS
371suCz/2X2cBBTNuuM8tCc6hoJLudtAVlghhWe4eEhlRZ5VZj+/1sCjR9uZ/JRH
wVFonBsOrQZXyBzk41AWtsuGbifSGIEPaBncg+kDBa7MDd//pbagENYXdHdhcUOE
X7lQSoUX1WZkfYYTenDmln76ZLOhqfuKfcPvQ6sqsk5MN/qNuJJ6cAKs92Z2GRUu
ZalSRwKe1KgHTwPm0+ZmRP4H8dDMUUE2TDgOFFkU5QlUGOUT1IxoaQnpAioCjW/i
huUzyMKHNJezX2P7YPLqzF/Qy5AXywWYwIRabwIDAQABAoIBAAMQTnudB5T+f5H0
nmR3cXLZmNkRg4o7b8h4tsMQ8YOLyHFp9I9MwuSW7ez04eioTtVuptKva+Cd1HAK
q3jJKNrWixY/f4/Qu9u+FF344ccz1GgcBGgQZR6bKLypSJAszt3R1aIQWuOTDjek
tM1bXDMq39TJ2Gath6DRQ/dMY0NBXMYCuX5mo+JWurGEQDPKUbkoKy90tZ5eYurS
+HFKZNTr8fXDn0OiJBKoVtOD7kLGODSOowvVPqA10Cv7ST9+KbHjgo6leR74acZC
BFPg36uAFfqm2u2uXWgwFCr3YDWPUFo/LdWkbX3GG/kDBNkBgQJnmtr/LcMDXfOJ
CfriI0UCgYEA38ysGe+Nak3HvSTEzv1XypVrVmwdFdUoyril46l4pCOQzgnJd0R/
uxCiM2RtdqdoSOXeVUAp5cmT8zmqqSH0wRVb4QvWLlet7CoNBAp0Nc15EfxOfx3h
D2UaIVRqSpP4R+x1D1Sap6DAUnS6yd2BSmZRqHOYDjx0XsSf+87EV1sCgYEAv3JH
xZtB4nYMCi4HcM7qxeXPoOjThEkpUU5WnPyZ/SRDYKEUyVC46gRHEBH38WvfoJq2
gsxCEsJrNCQj+LesyHtd6f9KmsfQVCl1vL18+re7moox1AWwxEptIQAPlP8wEdgH
E9pZApVeb1QI8HJq1LFdQiQL2pKrbdXpNpKSiX0CgYAoRJtyzzeSuQwHbGY9GDiD
qv71Pd693uzIDRFMNWIPppaXfAtT+m9BKW0F8jv/7X9GHpYyoKjpP6vvR6D9ba6s
TzuI8qhHDl+s7qQI5hii1aXDJrK5DJdCPd7FwHqfkKBL0K//Yimxn6r7KyWwzLpG
uMJYnPPvG9GUe6yNklahoQKBgCGxbSw77NZ8TBYmj6ys3ejCT05Ua5Vmgt0KWnf6
hOdmUG1bLBtaF5En+5G6d9aHU64iTGisphxDFzbv/Vyyhrgp7hdWlLy02ddWDKCR
AMPnPh8unyJfdgK1zor2RcfFOaKKUISP8wZfX2Vcds5KdL7GEFGpomRvV7hW41p1
ZVDJAoGACkNDI0MvYyyOJd041FJZqHtL75xgOJyxhZDmIiaPGnyueGMyalacJ9Q4
ok77Ej2Kh8Isqch0GQCzin5TQiTVzlRT+gM8GzXjLAe7NuF4K4HBcMyySOCOSx5B
tUbKjBDGC4s+ATCSoIfo2lbcElGQ1riL/mQerRsBoaC3x78IFyY=
-----END RSA PRIVATE KEY-----
""";

    /** Self-signed for {@code rsa.example.com} and {@code *.rsa.example.com}, O=Openssl Fixture. */
    static final String RSA_CERT = """
-----BEGIN CERTIFICATE-----
MIIDfDCCAmSgAwIBAgIUV19s4qtuGvoyEEi2dPPfhxmA4I4wDQYJKoZIhvcNAQEL
BQAwNDEYMBYGA1UECgwPT3BlbnNzbCBGaXh0dXJlMRgwFgYDVQQDDA9yc2EuZXhh
bXBsZS5jb20wIBcNMjYxMTI2MDc1ODM5WhgPMjEyNjExMDIwNzU4MzlaMDQxGDAW
BgNVBAoMD09wZW5zc2wgRml4dHVyZTEYMBYGA1UEAwwPcnNhLmV4YW1wbGUuY29t
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAp12cSoE9VdQ4ZJrq8OvC
JAOy7wQE82Uy1cl196dag4ziLVfS371suCz/2X2cBBTNuuM8tCc6hoJLudtAVlgh
hWe4eEhlRZ5VZj+/1sCjR9uZ/JRHwVFonBsOrQZXyBzk41AWtsuGbifSGIEPaBnc
g+kDBa7MDd//pbagENYXdHdhcUOEX7lQSoUX1WZkfYYTenDmln76ZLOhqfuKfcPv
Q6sqsk5MN/qNuJJ6cAKs92Z2GRUuZalSRwKe1KgHTwPm0+ZmRP4H8dDMUUE2TDgO
FFkU5QlUGOUT1IxoaQnpAioCjW/ihuUzyMKHNJezX2P7YPLqzF/Qy5AXywWYwIRa
bwIDAQABo4GDMIGAMB0GA1UdDgQWBBSvCNpAX67oNcC16f110IsPoxURkTAfBgNV
HSMEGDAWgBSvCNpAX67oNcC16f110IsPoxURkTAPBgNVHRMBAf8EBTADAQH/MC0G
A1UdEQQmMCSCD3JzYS5leGFtcGxlLmNvbYIRKi5yc2EuZXhhbXBsZS5jb20wDQYJ
KoZIhvcNAQELBQADggEBAELSdol4qGRFOxh3892J1QQnZkrnMVJIU74NM6mDFmBh
7IF7bYOmSblyAF9cNj6tDV6NxJNDWNEepNsoe+ofmHEndDxQl+SlVYf2fcfqYN8w
lvrgI7IF1ETPhOmI08mWUqnHcZgpfKU5Mbq01VNYWuHQpGbd4vB3QI9mO/4GPNx2
YOZhsxfIU01z8elieSr4wp069ZcBq0+2HzBVZG6STJPL0hlODJWuRjAMwOqYLjRk
d2+msfwSE2g3g4wyZ6FgoAzx33+yDULB3MkWkR09ieK1OtEqshxQ8DkBrB7lcz84
pPPAvw2FZnkrNWy+9C0DM/kDG56cd7XB6Czrcv1nBcE=
-----END CERTIFICATE-----
""";

    /** EC P-384, SEC1 with its EC PARAMETERS block ({@code openssl ecparam -genkey}). */
    static final String EC_P384_SEC1_KEY_WITH_PARAMETERS = """
-----BEGIN EC PARAMETERS-----
BgUrgQQAIg==
-----END EC PARAMETERS-----
-----BEGIN EC PRIVATE KEY-----
MIGkAgEBBDAiRcW6lpOHWo6hTcNSh4YAoLStGdi664GvYhDVgoZG6db1ZlEK5rgO
q2rmDLTNr3SgBwYFK4EEACKhZANiAAQil8bmegLIHWM1egQAx3QcPzXjd7PtbKcY
ZHMGu/DHalIBfAmXS/DOwIkklCJXDZ4nLQy7+xChANlItZNWAQA0kXZmQyCitWWe
EZ+QzqYnivOZDhwR/rVBNDjAoGurqTk=
-----END EC PRIVATE KEY-----
""";

    /** Self-signed CA for the key above; CN=Openssl Fixture CA and no SAN (the CN fallback). */
    static final String EC_P384_CA_CERT = """
-----BEGIN CERTIFICATE-----
MIIBzTCCAVSgAwIBAgIUEOyOR355eZ7zweqs+Oa1dBRwnCIwCgYIKoZIzj0EAwIw
HTEbMBkGA1UEAwwST3BlbnNzbCBGaXh0dXJlIENBMCAXDTI2MTEyNjA3NTgzOVoY
DzIxMjYxMTAyMDc1ODM5WjAdMRswGQYDVQQDDBJPcGVuc3NsIEZpeHR1cmUgQ0Ew
djAQBgcqhkjOPQIBBgUrgQQAIgNiAAQil8bmegLIHWM1egQAx3QcPzXjd7PtbKcY
ZHMGu/DHalIBfAmXS/DOwIkklCJXDZ4nLQy7+xChANlItZNWAQA0kXZmQyCitWWe
EZ+QzqYnivOZDhwR/rVBNDjAoGurqTmjUzBRMB0GA1UdDgQWBBRsegSmyI0gXB31
vTu47vBveMWUvDAfBgNVHSMEGDAWgBRsegSmyI0gXB31vTu47vBveMWUvDAPBgNV
HRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA2cAMGQCMA55l2ShsydFJ1p6ASd1Esgf
lLDZD1Q0tJzFL0BFSgt2dZI1UCkApSmvY9+t0LkPFwIwMAlQf58EQrATirjwIsh3
GlxVfRbnYxIMGIIwyl44QoQcQzJqTTi3dWNWSaxjiseo
-----END CERTIFICATE-----
""";

    /** EC P-256, SEC1 without parameters block ({@code openssl ecparam -genkey -noout}). */
    static final String EC_P256_SEC1_KEY = """
-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIBkz0YGdLrwHp0aecmSu2IYMWhuwjEbb/7IyLcuYkEgMoAoGCCqGSM49
AwEHoUQDQgAE+LAd5lqyP039nQ0G9kXaJ14asNSQnXpOqgL21zqgOodzWHTSCNkB
ondZ/YYsIwuVm+b4DtXo92XE6OaDsnrLVg==
-----END EC PRIVATE KEY-----
""";

    /** Leaf for {@code chain.example.com}, issued by {@link #EC_P384_CA_CERT}. */
    static final String CHAIN_LEAF_CERT = """
-----BEGIN CERTIFICATE-----
MIIB3jCCAWSgAwIBAgIUV0sla50cvBwpxq3jZZaiGmcRIwswCgYIKoZIzj0EAwIw
HTEbMBkGA1UEAwwST3BlbnNzbCBGaXh0dXJlIENBMCAXDTI2MTEyNjA3NTgzOVoY
DzIxMjYxMTAyMDc1ODM5WjAcMRowGAYDVQQDDBFjaGFpbi5leGFtcGxlLmNvbTBZ
MBMGByqGSM49AgEGCCqGSM49AwEHA0IABPiwHeZasj9N/Z0NBvZF2ideGrDUkJ16
TqoC9tc6oDqHc1h00gjZAaJ3Wf2GLCMLlZvm+A7V6PdlxOjmg7J6y1ajgYAwfjAc
BgNVHREEFTATghFjaGFpbi5leGFtcGxlLmNvbTAJBgNVHRMEAjAAMBMGA1UdJQQM
MAoGCCsGAQUFBwMBMB0GA1UdDgQWBBTqb3FLloeas9R8B2TnPL7rB2tJDjAfBgNV
HSMEGDAWgBRsegSmyI0gXB31vTu47vBveMWUvDAKBggqhkjOPQQDAgNoADBlAjEA
rZBM4P7kANeiYV4RuaSYPgIEbVo5nFqbSjjZ02xum7T+f8ZEn9G6oMPxUr1gYf8B
AjAWWkI7vxh5vjD0IxTiB3NRqicYGZ8nUm+uvVAOTDxpSiI5Wm367N8Njg0DBkMp
97o=
-----END CERTIFICATE-----
""";

    /** {@link #EC_P256_SEC1_KEY} encrypted, PKCS#8 ({@code openssl pkcs8 -topk8 -v2 aes-256-cbc}). */
    static final String ENCRYPTED_PKCS8_KEY = """
-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAiOeK7D6A+lcgICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEHPtWzwm/NeLuI0SWO9dcTsEgZAe
cSvbKme2ootk8jgOWFzFbzKDm1qmZDDmmPoBtb62T9rpOtTTJJCLzkN/aIp782aY
0BL8Soov222vz6tOMhogH53dCWmaMy6ZIJnNxhE0d5TJPV+lltsLgtqHQrRYcAlI
3q9dWyjjyHlP+Hsasp63mF8RjkClsafqFcBO0QPasrrMRq1aPraQjdu3VuH8sSc=
-----END ENCRYPTED PRIVATE KEY-----
""";

    /** {@link #EC_P256_SEC1_KEY} encrypted the traditional way ({@code openssl ec -aes256}). */
    static final String ENCRYPTED_SEC1_KEY = """
-----BEGIN EC PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-256-CBC,8DAA7E854E0D90E6E9A04BF157AEFE91

9fdwdjcFDNaGV3R+qcbWQzOHni/MsxKXZFfD7/NCenYRsZfADxdsvhcF63bNAYdb
igyqbIsUYVCKGhRJVGm8Xoj7drREigk4KYCGNm6DkS9ShW8HVXfVaTFqIWU2Qyhs
PQ5NC4yCWcX+uQnxM+duxqIRmT/GxveUu3GJp8dpeJE=
-----END EC PRIVATE KEY-----
""";

    private OpensslFixtures() {
    }
}
