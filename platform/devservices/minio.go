package devservices

import (
	"context"
	"os"
	"path/filepath"
)

func (s *Services) ensureMinIO(ctx context.Context, o Options) error {
	dir := o.dataDir("minio")
	var bin string
	ports, err := s.ensureService(ctx, o, service{
		kind:  minioKind(),
		ports: []string{"api", "console"},
		healthy: func(ctx context.Context, ports map[string]int) error {
			return httpOK(ctx, "http://"+loopback(ports["api"])+"/minio/health/live", nil)
		},
		prepare: func(ctx context.Context) (err error) {
			bin, err = ensureBinary(ctx, o, "minio", MinIOModule, "MinIO", "2–3 minutes")
			return err
		},
		launch: func(_ context.Context, ports map[string]int, detached bool) (*process, error) {
			args := []string{
				"server", filepath.Join(dir, "data"),
				"--address", loopback(ports["api"]),
				"--console-address", loopback(ports["console"]),
				"--quiet",
			}
			env := append(os.Environ(),
				"MINIO_ROOT_USER="+DevMinIOAccessKey,
				"MINIO_ROOT_PASSWORD="+DevMinIOSecretKey,
				"MINIO_BROWSER=off",
				"MINIO_UPDATE=off",
			)
			return spawn(bin, args, env, filepath.Join(dir, "log"), detached)
		},
	})
	if err != nil {
		return err
	}
	s.MinIOEndpoint = loopback(ports["api"])
	s.MinIOAccessKey, s.MinIOSecretKey = DevMinIOAccessKey, DevMinIOSecretKey
	return nil
}
