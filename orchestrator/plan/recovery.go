package plan

// Recovery is what `recover` did to one service.
type Recovery struct {
	Host   string `json:"host"`
	Name   string `json:"name"`
	Action string `json:"action"`
	Result string `json:"result"`
}
