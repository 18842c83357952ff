// Package blob stores media and exports in MinIO (the S3 API) in one private bucket, under
// keys that start with the tenant: t/{tenant}/m/{merchant}/{kind}/{uuid}.
package blob

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"mercato/platform/fault"
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

// ErrNotFound is returned by Get for a key the bucket does not hold.
var ErrNotFound = fault.New(fault.NotFound, "object_not_found", "no such file")

// Object describes a stored object.
type Object struct {
	Key         string
	ContentType string
	Size        int64
	ETag        string
	ModTime     time.Time
}

// Put stores size bytes from r under key, replacing what was there.
func (s *Store) Put(ctx context.Context, key, contentType string, r io.Reader, size int64) error {
	if _, err := s.client.PutObject(ctx, s.bucket, key, r, size, minio.PutObjectOptions{ContentType: contentType}); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// Get opens the object under key; the caller closes it. Errors: ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, Object, error) {
	o, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, Object{}, fmt.Errorf("get %s: %w", key, err)
	}
	// GetObject is lazy: Stat is the first round trip, and tells a missing key apart.
	st, err := o.Stat()
	if err != nil {
		o.Close()
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, Object{}, ErrNotFound
		}
		return nil, Object{}, fmt.Errorf("get %s: %w", key, err)
	}
	return o, Object{Key: key, ContentType: st.ContentType, Size: st.Size, ETag: st.ETag, ModTime: st.LastModified}, nil
}

// Delete removes the object under key; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}
