"""Each vendor's documented flow, the way real Python clients do it: a requests.Session() cookie jar.

Usage: vendor_flows.py '<ready line JSON>'   (run by tests/it/python.rs)
"""
import json
import sys

import requests

# No request waits for ever: requests has no timeout unless given one, so every request of this
# script (Session's and the module functions', which go through a Session) gets 10 s: a stand
# that never answered fails the test instead of hanging the suite.
_request = requests.Session.request


def _bounded(self, *args, **kwargs):
    kwargs.setdefault("timeout", 10)
    return _request(self, *args, **kwargs)


requests.Session.request = _bounded


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")


def junos_space(url):
    s = requests.Session()
    s.auth = ("super", "juniper123")
    r = s.post(f"{url}/api/space/user-management/login")
    check(r.status_code == 200 and r.text == "User logged in", f"login {r.status_code} {r.text!r}")
    check({"JSESSIONID", "JSESSIONIDSSO"} <= set(s.cookies.keys()), f"cookies {s.cookies.keys()}")
    s.auth = None  # from here on only the cookies, as the docs say
    r = s.get(f"{url}/api/space/user-management/login-status")
    check((r.status_code, r.text) == (200, "User is logged in"), f"login-status {r.status_code}")
    r = s.get(f"{url}/api/space/user-management/users")
    check(r.status_code == 200 and "<users" in r.text, "users with the SSO cookie")
    r = s.post(f"{url}/api/space/user-management/logout")
    check((r.status_code, r.text) == (200, "User logged out"), f"logout {r.status_code}")
    r = s.get(f"{url}/api/space/user-management/login-status")
    check(r.status_code == 401, f"after logout {r.status_code}")
    r = requests.post(f"{url}/api/space/user-management/login", auth=("super", "wrong"))
    check((r.status_code, r.text) == (401, "User is not logged in"), "wrong password")


def oracle_sdm(url):
    s = requests.Session()
    body = '<?xml version="1.0" encoding="UTF-8"?><session><userName>admin</userName><password>password</password></session>'
    r = s.post(f"{url}/rest/v1.1/admin/login", data=body,
               headers={"Content-Type": "application/xml", "Accept": "application/xml"})
    check(r.status_code == 200 and "<sessionId>" in r.text, f"login {r.status_code} {r.text!r}")
    check(s.cookies.get("JSESSIONID", path="/rest") in r.text, "cookie = sessionId")
    r = s.get(f"{url}/rest/v1.1/admin/serverInfo")
    check(r.status_code == 200, f"serverInfo {r.status_code}")
    r = s.post(f"{url}/rest/v1.1/admin/logout")
    check(r.status_code == 204, f"logout {r.status_code}")
    r = s.get(f"{url}/rest/v1.1/admin/serverInfo")
    check(r.status_code == 401, f"after logout {r.status_code}")
    r = requests.post(f"{url}/rest/v1.1/admin/login", json={"userName": "admin", "password": "password"},
                      headers={"Accept": "application/json"})
    check(r.status_code == 200 and r.json()["userName"] == "admin", "JSON login")


def storware(url):
    s = requests.Session()
    r = s.post(f"{url}/api/session/login", json={"login": "admin", "password": "wrong"})
    check(r.status_code == 401 and r.json()["message"], f"bad login {r.status_code}")
    r = s.post(f"{url}/api/session/login", json={"login": "admin", "password": "vPr0tect"})
    check(r.status_code == 201, f"login {r.status_code}")
    check(r.json()["lastFailedLoginIp"] == "127.0.0.1", f"failure recorded {r.json()}")
    r = s.get(f"{url}/api/session")
    check(r.status_code == 204 and r.content == b"", f"ping {r.status_code}")
    r = s.get(f"{url}/api/session/user/details")
    check(r.status_code == 200 and {"guid", "lastSuccessfulLogin", "lastFailedLogin", "uiTimeZone"} <= set(r.json()),
          f"details {r.text}")
    r = s.post(f"{url}/api/session/logout")
    check(r.status_code == 201 and r.content == b"", f"logout {r.status_code} {r.content!r}")
    r = s.get(f"{url}/api/session")
    check(r.status_code == 401, f"after logout {r.status_code}")


def sensnet(url):
    r = requests.post(f"{url}/sn/rest/api/login", data={"u": "test1@test.domain", "p": "password", "n": "Python-client"})
    check(r.status_code == 200, f"login {r.status_code}")
    ticket = r.json()["loginSession"]
    check(ticket["note"] == "[127.0.0.1 POST] Python-client" and ticket["idUser"] == 3, f"ticket {ticket}")
    r = requests.get(f"{url}/sn/rest/api/{ticket['token']}")
    check(r.status_code == 200 and r.json()["loginSession"]["token"] == ticket["token"], "check")
    r = requests.delete(f"{url}/sn/rest/api/{ticket['token']}")
    check((r.status_code, r.text) == (200, "true"), f"logout {r.status_code} {r.text!r}")
    r = requests.get(f"{url}/sn/rest/api/{ticket['token']}")
    check(r.status_code == 204 and r.content == b"", f"after logout {r.status_code}")
    r = requests.get(f"{url}/sn/rest/api/login/test1@test.domain/password/Java-client")
    check(r.status_code == 200 and r.json()["loginSession"]["note"].endswith("GET] Java-client"), "GET login")


def infinite_blue(url):
    r = requests.get(f"{url}/rest/api/login", headers={"loginName": "admin", "password": "password"})
    check(r.status_code == 200 and "<sessionId> " in r.text, f"login {r.text!r}")
    first = r.text.split("<sessionId>")[1].split("</sessionId>")[0]  # with its leading space
    r = requests.get(f"{url}/rest/api/selectQuery", params={"sessionId": first, "query": "SELECT 1", "output": "json"})
    check(r.status_code == 200 and r.json() == [["1", "Acme"]], f"selectQuery {r.status_code} {r.text}")
    r = requests.get(f"{url}/rest/api/login", params={"loginName": "admin", "password": "password", "output": "json"})
    second = r.json()["sessionId"]
    r = requests.get(f"{url}/rest/api/selectQuery", params={"sessionId": first, "output": "json"})
    check(r.status_code == 401 and r.json() == {"status": "login", "message": "Session expired or invalid login credentials"},
          f"kicked out {r.status_code} {r.text}")
    r = requests.post(f"{url}/rest/api/logout", data={"sessionId": second, "output": "json"})
    check(r.json() == {"status": "ok"}, f"logout {r.text}")


FLOWS = {"junos-space": junos_space, "oracle-sdm": oracle_sdm, "storware": storware,
         "sensnet": sensnet, "infinite-blue": infinite_blue}

if __name__ == "__main__":
    ready = json.loads(sys.argv[1])
    for stand in ready["stands"]:
        FLOWS[stand["profile"]](stand["url"])
        print(f"{stand['profile']}: ok")
