//! The export's S3 object, written as a multipart upload fed by a buffer: whenever the
//! buffer holds a full part (8 MiB; S3 wants ≥ 5 MiB for every part but the last), that
//! part goes up and leaves memory. The whole export is never held at once.

use crate::ExportError;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use std::sync::{Arc, Mutex};

pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// What the document writers write into (`std::io::Write`, as the zip writer needs).
#[derive(Clone, Default)]
pub struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Buffer {
    fn take(&self, at_most: usize) -> Vec<u8> {
        let mut bytes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let at = at_most.min(bytes.len());
        let rest = bytes.split_off(at);
        std::mem::replace(&mut *bytes, rest)
    }

    fn len(&self) -> usize {
        self.0.lock().map(|b| b.len()).unwrap_or(0)
    }
}

impl std::io::Write for Buffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct Upload<'a> {
    s3: &'a aws_sdk_s3::Client,
    bucket: String,
    key: String,
    upload_id: String,
    parts: Vec<CompletedPart>,
    size: i64,
    pub buffer: Buffer,
}

fn s3_error(err: impl std::error::Error) -> ExportError {
    ExportError::S3(aws_sdk_s3::error::DisplayErrorContext(err).to_string())
}

impl<'a> Upload<'a> {
    pub async fn start(
        s3: &'a aws_sdk_s3::Client,
        bucket: &str,
        key: &str,
        content_type: &str,
    ) -> Result<Upload<'a>, ExportError> {
        let created = s3
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .map_err(s3_error)?;
        Ok(Upload {
            s3,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            upload_id: created.upload_id().unwrap_or_default().to_owned(),
            parts: Vec::new(),
            size: 0,
            buffer: Buffer::default(),
        })
    }

    /// Sends every full part the buffer holds.
    pub async fn send_full_parts(&mut self) -> Result<(), ExportError> {
        while self.buffer.len() >= PART_SIZE {
            let part = self.buffer.take(PART_SIZE);
            self.send_part(part).await?;
        }
        Ok(())
    }

    async fn send_part(&mut self, bytes: Vec<u8>) -> Result<(), ExportError> {
        let number = self.parts.len() as i32 + 1;
        self.size += bytes.len() as i64;
        let sent = self
            .s3
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(bytes.into())
            .send()
            .await
            .map_err(s3_error)?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(sent.e_tag)
                .set_checksum_crc32(sent.checksum_crc32)
                .build(),
        );
        Ok(())
    }

    /// Sends what is left as the last part and completes the object; returns its size.
    pub async fn complete(mut self) -> Result<i64, ExportError> {
        self.send_full_parts().await?;
        let rest = self.buffer.take(PART_SIZE);
        if !rest.is_empty() || self.parts.is_empty() {
            self.send_part(rest).await?;
        }
        self.s3
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(std::mem::take(&mut self.parts)))
                    .build(),
            )
            .send()
            .await
            .map_err(s3_error)?;
        Ok(self.size)
    }

    /// Gives the parts sent so far back (an export that failed for good). A run that
    /// dies leaves them to the bucket's rule for incomplete uploads.
    pub async fn abort(self) {
        let aborted = self
            .s3
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .send()
            .await;
        if let Err(err) = aborted {
            tracing::warn!(key = %self.key, error = %s3_error(err), "multipart upload not aborted");
        }
    }
}
