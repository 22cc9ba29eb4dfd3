// Package deploy holds no code: its tests check the deployment files at the
// root of the repository (docker-compose.yml with Compose's own loader,
// compose-go; .env.example; Dockerfile; `make run`) against the
// configuration the binary reads, since no Docker engine runs in CI.
package deploy
