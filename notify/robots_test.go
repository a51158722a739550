package notify

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The known signatures were computed outside Go, with openssl and
// Python's hmac (the vendors' own sample code):
//
//	printf '1700000000000\nSECabc123' | openssl dgst -sha256 -hmac 'SECabc123' -binary | base64
//	printf '' | openssl dgst -sha256 -hmac "$(printf '1700000000\nfeishu-secret')" -binary | base64
const (
	dingTS      = 1700000000000
	dingSecret  = "SECabc123"
	dingSign    = "N5P09a4+p1AMJIJWnIvQd2Yxw9+fu/oEBnPrjCcsLXk="
	feishuTS    = 1700000000
	feishuSec   = "feishu-secret"
	feishuSignV = "OrBzY1Y01Gq+HgJsl+7OfWcMVwc7YocohQm5iiZwjhU="
)

func TestSignaturesKnownValues(t *testing.T) {
	if got := DingTalkSign(dingTS, dingSecret); got != dingSign {
		t.Errorf("DingTalkSign = %s, want %s", got, dingSign)
	}
	if got := FeishuSign(feishuTS, feishuSec); got != feishuSignV {
		t.Errorf("FeishuSign = %s, want %s", got, feishuSignV)
	}
}

// testMessage is a message of a failed run.
func testMessage() Message {
	ev := Event{Failed: true, Changed: true}
	return Message{Title: "tarsup upgrade on h: failed (exit 1)", Text: "1 rolled back\n\n- tars-node: v1 -> v2: rolled back", Event: ev}
}

// TestRobotRequests: each robot's exact request (URL, headers, body) for
// one message at one time, with the vendor's endpoint and with one given.
func TestRobotRequests(t *testing.T) {
	now := time.UnixMilli(dingTS)
	for _, tc := range []struct {
		url, wantURL, wantBody string
		event                  Event
	}{
		{
			url:      "dingtalk://d1ng70ken?secret=" + dingSecret,
			wantURL:  "https://oapi.dingtalk.com/robot/send?access_token=d1ng70ken&sign=N5P09a4%2Bp1AMJIJWnIvQd2Yxw9%2Bfu%2FoEBnPrjCcsLXk%3D&timestamp=1700000000000",
			wantBody: `{"msgtype":"markdown","markdown":{"title":"tarsup upgrade on h: failed (exit 1)","text":"#### tarsup upgrade on h: failed (exit 1)\n\n1 rolled back\n\n- tars-node: v1 -> v2: rolled back"}}`,
		},
		{
			url:      "dingtalk://d1ng70ken?endpoint=http://127.0.0.1:8080/relay/",
			wantURL:  "http://127.0.0.1:8080/relay/robot/send?access_token=d1ng70ken",
			wantBody: `{"msgtype":"markdown","markdown":{"title":"tarsup upgrade on h: failed (exit 1)","text":"#### tarsup upgrade on h: failed (exit 1)\n\n1 rolled back\n\n- tars-node: v1 -> v2: rolled back"}}`,
		},
		{
			url:      "wecom://693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa",
			wantURL:  "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa",
			wantBody: `{"msgtype":"markdown","markdown":{"content":"**tarsup upgrade on h: failed (exit 1)**\n1 rolled back\n\n- tars-node: v1 -> v2: rolled back"}}`,
		},
		{
			url:     "feishu://hook-1d?secret=" + feishuSec,
			wantURL: "https://open.feishu.cn/open-apis/bot/v2/hook/hook-1d",
			wantBody: `{"timestamp":"1700000000","sign":"` + feishuSignV + `","msg_type":"interactive","card":{"config":{"wide_screen_mode":true},` +
				`"header":{"title":{"tag":"plain_text","content":"tarsup upgrade on h: failed (exit 1)"},"template":"red"},` +
				`"elements":[{"tag":"markdown","content":"1 rolled back\n\n- tars-node: v1 -> v2: rolled back"}]}}`,
		},
		{
			url:     "lark://hook-1d?endpoint=https://relay.example.com",
			wantURL: "https://relay.example.com/open-apis/bot/v2/hook/hook-1d",
			wantBody: `{"msg_type":"interactive","card":{"config":{"wide_screen_mode":true},` +
				`"header":{"title":{"tag":"plain_text","content":"tarsup upgrade on h: failed (exit 1)"},"template":"red"},` +
				`"elements":[{"tag":"markdown","content":"1 rolled back\n\n- tars-node: v1 -> v2: rolled back"}]}}`,
		},
		{
			// shoutrrr's lark form: the vendor's host, then the hook's ID.
			url:     "lark://open.larksuite.com/hook-1d",
			wantURL: "https://open.larksuite.com/open-apis/bot/v2/hook/hook-1d",
			wantBody: `{"msg_type":"interactive","card":{"config":{"wide_screen_mode":true},` +
				`"header":{"title":{"tag":"plain_text","content":"tarsup upgrade on h: failed (exit 1)"},"template":"red"},` +
				`"elements":[{"tag":"markdown","content":"1 rolled back\n\n- tars-node: v1 -> v2: rolled back"}]}}`,
		},
	} {
		t.Run(tc.url, func(t *testing.T) {
			s, err := newSink(tc.url, withDefaults(Config{}))
			if err != nil {
				t.Fatal(err)
			}
			req, err := s.(*robot).build(t.Context(), testMessage(), now)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(req.Body)
			if req.Method != http.MethodPost || req.URL.String() != tc.wantURL {
				t.Errorf("%s %s\nwant POST %s", req.Method, req.URL, tc.wantURL)
			}
			if string(body) != tc.wantBody {
				t.Errorf("body\n%s\nwant\n%s", body, tc.wantBody)
			}
			if ct := req.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

// TestFeishuCardColour: red for a failed run, green for one that changed
// something, blue for the rest (a dry run, nothing to do).
func TestFeishuCardColour(t *testing.T) {
	r, err := newSink("feishu://h", withDefaults(Config{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ev   Event
		want string
	}{
		{Event{Failed: true, Changed: true}, "red"},
		{Event{Changed: true}, "green"},
		{Event{Changed: true, DryRun: true}, "blue"},
		{Event{}, "blue"},
	} {
		_, _, body := feishuRequest(r.(*robot), Message{Event: tc.ev}, time.Now())
		if got := body.(feishuMessage).Card.Header.Template; got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.ev, got, tc.want)
		}
	}
}

// TestRobotURLErrors: a robot URL that cannot work is refused, saying what
// to write, and without repeating its secrets.
func TestRobotURLErrors(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"dingtalk://", "DingTalk's token goes right after dingtalk://"},
		{"dingtalk://t0ken@127.0.0.1:9000", "no user@, port or path"},
		{"dingtalk://t0ken/path", "no user@, port or path"},
		{"dingtalk://t0ken?secret=", `DingTalk takes no parameter "secret"`},
		{"dingtalk://t0ken?sekret=s3cr3tvalue", `DingTalk takes no parameter "sekret": use secret=SEC, endpoint=URL`},
		{"wecom://k3y?secret=s3cr3tvalue", `WeCom takes no parameter "secret": use endpoint=URL`},
		{"feishu://h00k?endpoint=ftp://x", "endpoint= takes http://HOST[:PORT][/PREFIX]"},
		{"feishu://h00k?endpoint=http://127.0.0.1:1/?q=1", "endpoint= takes"},
		{"lark://h00k?title=x", `Lark takes no parameter "title"`},
	} {
		t.Run(tc.url, func(t *testing.T) {
			err := CheckURL(tc.url)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want %q", err, tc.want)
			}
			for _, secret := range []string{"t0ken", "k3y", "h00k", "s3cr3tvalue"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error repeats %q: %v", secret, err)
				}
			}
		})
	}
}

// TestVendorAnswers: HTTP 2xx with errcode/code 0 (or no JSON, from a
// relay) is success; anything else fails, with the vendor's message.
func TestVendorAnswers(t *testing.T) {
	for _, tc := range []struct {
		code int
		body string
		want string
	}{
		{200, `{"errcode":0,"errmsg":"ok"}`, ""},
		{200, `{"code":0,"msg":"success"}`, ""},
		{200, `{"StatusCode":0,"StatusMessage":"success"}`, ""},
		{204, ``, ""},
		{200, `{"errcode":310000,"errmsg":"sign not match"}`, "errcode 310000: sign not match"},
		{200, `{"errcode":93000,"errmsg":"invalid webhook url"}`, "errcode 93000"},
		{200, `{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}`, "code 19021: sign match fail"},
		{502, `bad gateway`, "502 Bad Gateway: bad gateway"},
	} {
		err := vendorAnswer(tc.code, http.StatusText(tc.code), []byte(tc.body))
		if tc.code == 502 {
			err = vendorAnswer(tc.code, "502 Bad Gateway", []byte(tc.body))
		}
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%d %s: %v, want %q", tc.code, tc.body, err, tc.want)
		}
	}
}

// TestRobotSendScrubsSecrets: the errors of a send (refused connection,
// a vendor's error) name the robot and hold neither token nor secret.
func TestRobotSendScrubsSecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(rw, `{"errcode":300001,"errmsg":"token d1ng70ken is not valid"}`)
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	for endpoint, want := range map[string]string{srv.URL: "DingTalk answered errcode 300001: token *** is not valid", closedURL: "POST to DingTalk: "} {
		s, err := newSink("dingtalk://d1ng70ken?secret="+dingSecret+"&endpoint="+url.QueryEscape(endpoint), withDefaults(Config{}))
		if err != nil {
			t.Fatal(err)
		}
		err = s.Send(t.Context(), testMessage())
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "d1ng70ken") || strings.Contains(err.Error(), dingSecret) {
			t.Errorf("send via %s: %v, want %q and no secret", endpoint, err, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	long := strings.Repeat("节", 2000) // 3 bytes each
	got := truncate(long, 4000)
	if len(got) > 4000 || !strings.HasSuffix(got, "…(truncated)") || !strings.HasPrefix(got, "节节") {
		t.Errorf("truncate: %d bytes, suffix %q", len(got), got[len(got)-20:])
	}
	if truncate("short", 4000) != "short" {
		t.Error("a short text is cut")
	}
	for i := 0; i < len(got); {
		r, n := []rune(got[i:])[0], len(string([]rune(got[i:])[0]))
		if r == '\uFFFD' {
			t.Fatalf("cut inside a character at %d", i)
		}
		i += n
	}
}
