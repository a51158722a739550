package plan

// Health values in reports.
const (
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
	HealthStarting  = "starting"
	HealthStopped   = "stopped"
)
