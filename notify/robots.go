package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The chat robots most Tars teams use, written here: shoutrrr has no
// DingTalk, and its WeCom and Lark services post only to the vendors' own
// hosts (no relay, no test receiver) and send no markdown.

// robotKind is what one vendor's robot needs.
type robotKind struct {
	// name is the vendor's name in messages; endpoint its API's origin.
	name, endpoint string
	// signed: the robot takes ?secret= (a signing secret).
	signed bool
	// limit is how many bytes of text a message may carry.
	limit int
	// request builds the request's URL (below the endpoint) and body.
	request func(r *robot, m Message, now time.Time) (path string, query url.Values, body any)
}

var robotKinds = map[string]robotKind{
	"dingtalk": {name: "DingTalk", endpoint: "https://oapi.dingtalk.com", signed: true, limit: 18000, request: dingTalkRequest},
	"wecom":    {name: "WeCom", endpoint: "https://qyapi.weixin.qq.com", limit: 4000, request: weComRequest},
	"feishu":   {name: "Feishu", endpoint: "https://open.feishu.cn", signed: true, limit: 18000, request: feishuRequest},
	"lark":     {name: "Lark", endpoint: "https://open.larksuite.com", signed: true, limit: 18000, request: feishuRequest},
}

// feishuHosts are the hosts of Feishu and Lark webhook URLs, which a URL
// in shoutrrr's lark form names (lark://open.feishu.cn/HOOK_ID).
var feishuHosts = map[string]bool{"open.feishu.cn": true, "open.larksuite.com": true}

// robot is one robot webhook: dingtalk://TOKEN?secret=SEC,
// wecom://KEY, feishu://HOOK_ID?secret=SEC, lark://HOOK_ID?secret=SEC,
// each with an optional ?endpoint=http://HOST:PORT[/PREFIX] in place of
// the vendor's origin (a relay, a test receiver).
type robot struct {
	kind     robotKind
	token    string
	secret   string
	endpoint string
	name     string
	client   *http.Client
	now      func() time.Time
	secrets  []string
}

var tokenRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// parseRobot reads a robot URL; its errors say what to write instead.
func parseRobot(u *url.URL, raw string, cfg Config) (*robot, error) {
	k := robotKinds[u.Scheme]
	r := &robot{kind: k, token: u.Host, endpoint: k.endpoint, name: Redact(raw), client: cfg.Client, now: cfg.Now, secrets: append(secretsOf(raw), u.Host)}
	if r.now == nil {
		r.now = time.Now
	}
	path := strings.Trim(u.Path, "/")
	if k.request == nil {
		return nil, fmt.Errorf("unknown robot %q", u.Scheme)
	}
	if (u.Scheme == "feishu" || u.Scheme == "lark") && feishuHosts[u.Host] {
		// shoutrrr's form: lark://open.feishu.cn/HOOK_ID.
		r.endpoint, r.token, path = "https://"+u.Host, path, ""
	}
	if u.User != nil || path != "" || !tokenRe.MatchString(r.token) {
		return nil, fmt.Errorf("%s's token goes right after %s:// (letters, digits, - and _; no user@, port or path): "+
			"write %s://TOKEN[?%s], TOKEN from the robot's webhook URL", k.name, u.Scheme, u.Scheme, robotParams(k))
	}
	for key, vs := range u.Query() {
		switch {
		case key == "secret" && k.signed && vs[0] != "":
			r.secret = vs[0]
		case key == "endpoint":
			e, err := parseEndpoint(vs[0])
			if err != nil {
				return nil, err
			}
			r.endpoint = e
		default:
			return nil, fmt.Errorf("%s takes no parameter %q: use %s", k.name, key, robotParams(k))
		}
	}
	return r, nil
}

func robotParams(k robotKind) string {
	if k.signed {
		return "secret=SEC, endpoint=URL"
	}
	return "endpoint=URL"
}

// parseEndpoint checks an ?endpoint=: http(s)://HOST[:PORT][/PREFIX].
func parseEndpoint(s string) (string, error) {
	e, err := url.Parse(s)
	if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" || e.User != nil || e.RawQuery != "" || e.Fragment != "" {
		return "", errors.New("endpoint= takes http://HOST[:PORT][/PREFIX] or https://...: the origin the robot's API is reached at (the vendor's by default)")
	}
	return strings.TrimRight(e.String(), "/"), nil
}

// Name is the robot's URL, redacted.
func (r *robot) Name() string { return r.name }

// Send posts m to the robot and checks the vendor's answer: HTTP 2xx and,
// when the body says, errcode (DingTalk, WeCom) or code (Feishu) 0.
func (r *robot) Send(ctx context.Context, m Message) error {
	req, err := r.build(ctx, m, r.now())
	if err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// Why: url.Error repeats the URL, token included.
			err = ue.Err
		}
		return errors.New(scrub(fmt.Sprintf("POST to %s: %v", r.kind.name, err), r.secrets))
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err := vendorAnswer(resp.StatusCode, resp.Status, data); err != nil {
		return errors.New(scrub(fmt.Sprintf("%s answered %v", r.kind.name, err), r.secrets))
	}
	return nil
}

// build is the request for m at time now.
func (r *robot) build(ctx context.Context, m Message, now time.Time) (*http.Request, error) {
	m.Text = truncate(m.Text, r.kind.limit)
	path, query, body := r.kind.request(r, m, now)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		return nil, fmt.Errorf("encode the %s message: %w", r.kind.name, err)
	}
	target := r.endpoint + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(bytes.TrimSpace(buf.Bytes())))
	if err != nil {
		return nil, errors.New(scrub(err.Error(), r.secrets))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "tarsup")
	return req, nil
}

// vendorAnswer is nil for a 2xx whose JSON body, if any, says success.
func vendorAnswer(code int, status string, body []byte) error {
	var a struct {
		ErrCode    *int   `json:"errcode"`
		ErrMsg     string `json:"errmsg"`
		Code       *int   `json:"code"`
		Msg        string `json:"msg"`
		StatusCode *int   `json:"StatusCode"`
	}
	if code/100 != 2 {
		return fmt.Errorf("%s: %s", status, strings.TrimSpace(string(body)))
	}
	if json.Unmarshal(body, &a) != nil {
		return nil // a relay that answers 2xx without JSON took it
	}
	switch {
	case a.ErrCode != nil && *a.ErrCode != 0:
		return fmt.Errorf("errcode %d: %s", *a.ErrCode, a.ErrMsg)
	case a.Code != nil && *a.Code != 0:
		return fmt.Errorf("code %d: %s", *a.Code, a.Msg)
	case a.StatusCode != nil && *a.StatusCode != 0:
		return fmt.Errorf("StatusCode %d: %s", *a.StatusCode, a.Msg)
	}
	return nil
}

// truncate cuts text to at most limit bytes, on a character boundary.
func truncate(text string, limit int) string {
	const more = "\n…(truncated)"
	if len(text) <= limit {
		return text
	}
	cut := limit - len(more)
	for cut > 0 && !utf8.RuneStart(text[cut]) {
		cut--
	}
	return text[:cut] + more
}

// DingTalkSign is DingTalk's signature of a request at timestamp (Unix
// milliseconds): HMAC-SHA256 with the secret as key over
// "timestamp\nsecret", in base64 (the query's encoding escapes it).
func DingTalkSign(timestamp int64, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// FeishuSign is Feishu's (and Lark's) signature at timestamp (Unix
// seconds): HMAC-SHA256 with "timestamp\nsecret" as key over an empty
// message, in base64.
func FeishuSign(timestamp int64, secret string) string {
	mac := hmac.New(sha256.New, []byte(strconv.FormatInt(timestamp, 10)+"\n"+secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

type dingTalkMessage struct {
	MsgType  string `json:"msgtype"`
	Markdown struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	} `json:"markdown"`
}

// dingTalkRequest: POST /robot/send?access_token=TOKEN[&timestamp=MS&sign=S]
// with a markdown message; the title shows in the chat list, so the text
// repeats it as a heading.
func dingTalkRequest(r *robot, msg Message, now time.Time) (string, url.Values, any) {
	q := url.Values{"access_token": {r.token}}
	if r.secret != "" {
		ts := now.UnixMilli()
		q.Set("timestamp", strconv.FormatInt(ts, 10))
		q.Set("sign", DingTalkSign(ts, r.secret))
	}
	var m dingTalkMessage
	m.MsgType = "markdown"
	m.Markdown.Title = msg.Title
	m.Markdown.Text = "#### " + msg.Title + "\n\n" + msg.Text
	return "/robot/send", q, m
}

type weComMessage struct {
	MsgType  string `json:"msgtype"`
	Markdown struct {
		Content string `json:"content"`
	} `json:"markdown"`
}

// weComRequest: POST /cgi-bin/webhook/send?key=KEY with a markdown
// message, the title in bold on its first line.
func weComRequest(r *robot, msg Message, _ time.Time) (string, url.Values, any) {
	var m weComMessage
	m.MsgType = "markdown"
	m.Markdown.Content = "**" + msg.Title + "**\n" + msg.Text
	return "/cgi-bin/webhook/send", url.Values{"key": {r.token}}, m
}

type feishuMessage struct {
	Timestamp string     `json:"timestamp,omitempty"`
	Sign      string     `json:"sign,omitempty"`
	MsgType   string     `json:"msg_type"`
	Card      feishuCard `json:"card"`
}

type feishuCard struct {
	Config struct {
		WideScreenMode bool `json:"wide_screen_mode"`
	} `json:"config"`
	Header struct {
		Title struct {
			Tag     string `json:"tag"`
			Content string `json:"content"`
		} `json:"title"`
		Template string `json:"template"`
	} `json:"header"`
	Elements []feishuElement `json:"elements"`
}

type feishuElement struct {
	Tag     string `json:"tag"`
	Content string `json:"content"`
}

// feishuRequest: POST /open-apis/bot/v2/hook/HOOK_ID with a card: the
// title in its header (red when the run failed, green when it changed
// something, blue otherwise) and the text as markdown; signed with
// timestamp and sign in the body when there is a secret.
func feishuRequest(r *robot, msg Message, now time.Time) (string, url.Values, any) {
	var m feishuMessage
	if r.secret != "" {
		ts := now.Unix()
		m.Timestamp = strconv.FormatInt(ts, 10)
		m.Sign = FeishuSign(ts, r.secret)
	}
	m.MsgType = "interactive"
	m.Card.Config.WideScreenMode = true
	m.Card.Header.Title.Tag = "plain_text"
	m.Card.Header.Title.Content = msg.Title
	m.Card.Header.Template = "blue"
	switch {
	case msg.Event.Failed:
		m.Card.Header.Template = "red"
	case msg.Event.Changed && !msg.Event.DryRun:
		m.Card.Header.Template = "green"
	}
	m.Card.Elements = []feishuElement{{Tag: "markdown", Content: msg.Text}}
	return "/open-apis/bot/v2/hook/" + r.token, nil, m
}
