// Package blob stores media and exports in MinIO (the S3 API) in one private bucket, under
// keys that start with the tenant: t/{tenant}/m/{merchant}/{kind}/{uuid}.
package blob

import (
	"context"
	"fmt"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Store is the bucket.
type Store struct {
	client *minio.Client
	bucket string
}

// Options says where MinIO is.
type Options struct {
	Endpoint, AccessKey, SecretKey, Bucket string
	Secure                                 bool
}

// Open makes a client; it does not touch the network.
func Open(o Options) (*Store, error) {
	c, err := minio.New(o.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure: o.Secure,
	})
	if err != nil {
		return nil, fmt.Errorf("minio client for %s: %w", o.Endpoint, err)
	}
	return &Store{client: c, bucket: o.Bucket}, nil
}

// EnsureBucket creates the bucket if it is missing. Buckets are private: no policy is set, so
// every read goes through a presigned URL or the platform.
func (s *Store) EnsureBucket(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("check bucket %s: %w", s.bucket, err)
	}
	if ok {
		return nil
	}
	if err := s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{}); err != nil {
		if r := minio.ToErrorResponse(err); r.Code == "BucketAlreadyOwnedByYou" {
			return nil
		}
		return fmt.Errorf("make bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Ping checks that MinIO answers and the bucket exists.
func (s *Store) Ping(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("bucket %s does not exist", s.bucket)
	}
	return nil
}
