"""A local Tencent Cloud SMS API (sms.tencentcloudapi.com, SendSms 2021-01-11) for tests.

The real ``tencentcloud-sdk-python-sms`` client talks to it (``SMS_ENDPOINT`` = ``emulator.endpoint``):
requests are checked as the service checks them — TC3-HMAC-SHA256 signature over the canonical
request with the emulator's SecretKey, ``X-TC-Action``/``X-TC-Version``, the SDK app id, the
registered signature, an approved template and the number of its parameters — and answered in the
documented shape (``Response.SendStatusSet[]`` or ``Response.Error``). Every text that would reach
a phone is recorded as ``sent`` (number, template id, params, the text the phone shows).

``fail_next(code, times=1)`` makes the next sends answer a per-number status code
(``LimitExceeded.PhoneNumberDailyLimit``, ``FailedOperation.PhoneNumberInBlacklist``, …).
``reply_body(phone, text)`` is the JSON the service posts to the desk's reply callback (回复回调).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET_ID = "AKIDemulator0000000000000000000000"
SECRET_KEY = "emulator-secret-key-000000000000"
SDK_APP_ID = "1400000001"
SIGN_NAME = "北辰有需必应"
TEMPLATES = {
    "2001": "您的诉求已受理，工单号 {1}，查询办理进度：{2} 回复TD退订",
    "2002": "您的诉求（工单 {1}）已办结，办理结果请查看：{2} 回复TD退订",
    "2003": "请对工单 {1} 的办理结果作出评价：{2} 回复TD退订",
    "2004": "贵企业可能符合政策「{1}」，详情与申报：{2} 回复TD退订",
}
TEMPLATE_ENV = {"SMS_TEMPLATE_ACCEPTED": "2001", "SMS_TEMPLATE_RESULT": "2002", "SMS_TEMPLATE_SURVEY": "2003",
                "SMS_TEMPLATE_POLICY": "2004"}


@dataclass
class SentSms:
    phone: str
    template_id: str
    params: list[str]
    text: str
    session_context: str
    serial: str


def _tc3_signature(secret_key: str, date: str, service: str, string_to_sign: str) -> str:
    def _hmac(key: bytes, message: str) -> bytes:
        return hmac.new(key, message.encode(), hashlib.sha256).digest()

    secret_date = _hmac(("TC3" + secret_key).encode(), date)
    secret_service = _hmac(secret_date, service)
    secret_signing = _hmac(secret_service, "tc3_request")
    return hmac.new(secret_signing, string_to_sign.encode(), hashlib.sha256).hexdigest()


class TencentSmsEmulator:
    def __init__(self):
        self.sent: list[SentSms] = []
        self.calls: list[dict] = []
        self._failures: list[str] = []
        self._serials = itertools.count(1)
        self._lock = threading.Lock()
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = emulator.handle(dict(self.headers), self.path, raw)
                body = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def settings_env(self) -> dict[str, str]:
        return {"SMS_BACKEND": "tencent", "SMS_SECRET_ID": SECRET_ID, "SMS_SECRET_KEY": SECRET_KEY,
                "SMS_SDK_APP_ID": SDK_APP_ID, "SMS_SIGN_NAME": SIGN_NAME, "SMS_ENDPOINT": self.endpoint,
                **TEMPLATE_ENV}

    def start(self) -> TencentSmsEmulator:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, code: str, times: int = 1) -> None:
        with self._lock:
            self._failures.extend([code] * times)

    @staticmethod
    def reply_body(phone: str, text: str) -> dict:
        return {"extend": "", "mobile": phone, "nationcode": "86", "sign": SIGN_NAME, "text": text,
                "time": int(time.time())}

    # -- the API ----------------------------------------------------------------------------------
    def _error(self, code: str, message: str) -> dict:
        return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": f"req-{next(self._serials)}"}}

    def _signature_ok(self, headers: dict, path: str, raw: bytes) -> bool:
        headers = {k.lower(): v for k, v in headers.items()}
        auth = headers.get("authorization", "")
        try:
            algorithm, rest = auth.split(" ", 1)
            parts = dict(part.strip().split("=", 1) for part in rest.split(","))
            secret_id, date, service, _ = parts["Credential"].split("/")
        except (ValueError, KeyError):
            return False
        if algorithm != "TC3-HMAC-SHA256" or secret_id != SECRET_ID or service != "sms":
            return False
        timestamp = headers.get("x-tc-timestamp", "")
        if not timestamp.isdigit() or abs(int(timestamp) - time.time()) > 300:
            return False
        if datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d") != date:
            return False
        canonical = "\n".join([
            "POST", path, "", f"content-type:{headers.get('content-type', '')}\nhost:{headers.get('host', '')}\n",
            parts["SignedHeaders"], hashlib.sha256(raw).hexdigest()])
        string_to_sign = "\n".join(["TC3-HMAC-SHA256", timestamp, f"{date}/sms/tc3_request",
                                    hashlib.sha256(canonical.encode()).hexdigest()])
        return hmac.compare_digest(_tc3_signature(SECRET_KEY, date, "sms", string_to_sign), parts["Signature"])

    def handle(self, headers: dict, path: str, raw: bytes) -> dict:
        lowered = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            if not self._signature_ok(headers, path, raw):
                return self._error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
            if lowered.get("x-tc-action") != "SendSms" or lowered.get("x-tc-version") != "2021-01-11":
                return self._error("InvalidAction", "The action requested is invalid.")
            body = json.loads(raw or b"{}")
            self.calls.append(body)
            if body.get("SmsSdkAppId") != SDK_APP_ID:
                return self._error("FailedOperation.SmsSdkAppIdVerifyFail", "SdkAppId verify fail.")
            if body.get("SignName") != SIGN_NAME:
                return self._error("FailedOperation.SignatureIncorrectOrUnapproved", "signature not approved")
            template = TEMPLATES.get(str(body.get("TemplateId")))
            if template is None:
                return self._error("FailedOperation.TemplateIncorrectOrUnapproved", "template not approved")
            params = [str(p) for p in body.get("TemplateParamSet") or []]
            expected = sum(1 for i in range(1, 10) if f"{{{i}}}" in template)
            if len(params) != expected:
                return self._error("FailedOperation.TemplateParamSetNotMatchApprovedTemplate", "param count mismatch")
            statuses = []
            for number in body.get("PhoneNumberSet") or []:
                serial = f"2433:{next(self._serials):010d}"
                code = self._failures.pop(0) if self._failures else "Ok"
                statuses.append({"SerialNo": serial if code == "Ok" else "", "PhoneNumber": number, "Fee": 1,
                                 "SessionContext": body.get("SessionContext", ""), "Code": code,
                                 "Message": "send success" if code == "Ok" else code, "IsoCode": "CN"})
                if code == "Ok":
                    text = template
                    for index, value in enumerate(params, 1):
                        text = text.replace(f"{{{index}}}", value)
                    self.sent.append(SentSms(number.removeprefix("+86"), str(body["TemplateId"]), params,
                                             f"【{SIGN_NAME}】{text}", body.get("SessionContext", ""), serial))
            return {"Response": {"SendStatusSet": statuses, "RequestId": f"req-{next(self._serials)}"}}
