package api

// routes registers every route of the server. Keep this the only place
// where routes are added; openapi.json documents each of them (a test
// checks both ways).
func (s *Server) routes() {
	e := s.e
	e.Use(s.withRequestID, s.observe, s.recoverPanic, s.limitBody)

	// Operations: no API key.
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.serveMetrics)
	e.GET("/openapi.json", s.serveOpenAPI)

	// The web page for bot designers: static assets, no API key (the page
	// asks for one and sends it with its REST calls).
	e.GET("/ui", s.redirectUI)
	e.GET("/ui/*", s.serveUI)

	// The v1 API: an API key (when keys are configured) selects the tenant.
	auth := s.authenticate
	e.POST("/v1/conversations", s.createConversation, auth)
	e.GET("/v1/conversations", s.listConversations, auth)
	e.GET("/v1/conversations/:id", s.getConversation, auth)
	e.DELETE("/v1/conversations/:id", s.deleteConversation, auth)

	e.POST("/v1/conversations/:id/turns", s.appendTurns, auth)
	e.GET("/v1/conversations/:id/turns", s.listTurns, auth)
	e.GET("/v1/conversations/:id/turns/:seq", s.getTurn, auth)
	e.DELETE("/v1/conversations/:id/turns/:seq", s.deleteTurn, auth)

	e.POST("/v1/conversations/:id/context", s.assembleContext, auth, s.boundContext)
	e.GET("/v1/conversations/:id/summaries", s.listSummaries, auth)
	e.POST("/v1/conversations/:id/compact", s.compact, auth)
	e.POST("/v1/conversations/:id/chat", s.chat, auth, s.boundChat)

	// Forget a user: every conversation of theirs (501 when the storage
	// backend cannot).
	e.DELETE("/v1/users/:user_id", s.deleteUser, auth)

	// Admin: the admin key (api.admin_key), not a tenant's.
	e.GET("/v1/admin/backup", s.backup, s.adminOnly)

	// OpenAI-compatible: errors in OpenAI's shape.
	oa := s.openAIRoute
	e.POST("/v1/chat/completions", s.chatCompletions, oa, auth, s.boundChat)
	e.GET("/v1/models", s.listModels, oa, auth)

	// Persona bots and their versions (501 without Deps.Bots).
	nb := s.needBots
	e.POST("/v1/bots", s.createBot, auth, nb)
	e.GET("/v1/bots", s.listBots, auth, nb)
	e.GET("/v1/bots/:id", s.getBot, auth, nb)
	e.PUT("/v1/bots/:id", s.putBot, auth, nb)
	e.PATCH("/v1/bots/:id", s.patchBot, auth, nb)
	e.DELETE("/v1/bots/:id", s.deleteBot, auth, nb)
	e.GET("/v1/bots/:id/versions", s.listBotVersions, auth, nb)
	e.GET("/v1/bots/:id/versions/:v", s.getBotVersion, auth, nb)
	e.POST("/v1/bots/:id/versions/:v/restore", s.restoreBotVersion, auth, nb)
	e.POST("/v1/bots/import", s.importBot, auth, nb)
	e.POST("/v1/bots/tokens", s.botTokens, auth) // needs the chat loop, not the bot store
	e.GET("/v1/bots/:id/card", s.exportCard, auth, nb)
	e.GET("/v1/bots/:id/avatar", s.getAvatar, auth, nb)
	e.POST("/v1/bots/:id/lore/test", s.loreTest, auth, nb)
	e.PUT("/v1/bots/:id/lorebook", s.putLorebook, auth, nb)
	e.GET("/v1/bots/:id/lorebook", s.getLorebook, auth, nb)
}
