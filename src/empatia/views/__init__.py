"""Read-side library over the stages' output tables: the customer 360, dashboard figures and
audiences. Each returns data (typed models or Arrow tables); the HTTP API, the web UI and the
CLI are thin faces over these functions and never query the store themselves."""
