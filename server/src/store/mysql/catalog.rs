//! The catalog: cities, theaters, screens with seats, movies, shows with prices, external ids.

use super::*;

pub(super) async fn write_city<Q: Queryable>(
    q: &mut Q,
    city: &City,
) -> Result<(), mysql_async::Error> {
    q.exec_drop(
        "INSERT INTO cities (id, name) VALUES (?, ?) \
         ON DUPLICATE KEY UPDATE name = VALUES(name)",
        (city.id, city.name.as_str()),
    )
    .await
}

pub(super) async fn write_theater<Q: Queryable>(
    q: &mut Q,
    theater: &Theater,
) -> Result<(), mysql_async::Error> {
    q.exec_drop(
        "INSERT INTO theaters (id, city_id, name) VALUES (?, ?, ?) \
         ON DUPLICATE KEY UPDATE city_id = VALUES(city_id), name = VALUES(name)",
        (theater.id, theater.city_id, theater.name.as_str()),
    )
    .await
}

/// Upserts a screen and replaces its seats; run it inside a transaction.
pub(super) async fn write_screen<Q: Queryable>(
    q: &mut Q,
    screen: &Screen,
) -> Result<(), mysql_async::Error> {
    q.exec_drop(
        "INSERT INTO screens (id, theater_id, name) VALUES (?, ?, ?) \
         ON DUPLICATE KEY UPDATE theater_id = VALUES(theater_id), name = VALUES(name)",
        (screen.id, screen.theater_id, screen.name.as_str()),
    )
    .await?;
    q.exec_drop("DELETE FROM seats WHERE screen_id = ?", (screen.id,))
        .await?;
    let mut values: Vec<Value> = Vec::with_capacity(screen.seats.len() * 7);
    for seat in &screen.seats {
        values.extend([
            Value::from(screen.id),
            Value::from(seat.id),
            Value::from(seat.row.as_str()),
            Value::from(seat.label.as_str()),
            Value::from(seat.category.name()),
            Value::from(seat.x),
            Value::from(seat.y),
        ]);
    }
    insert_rows(
        q,
        "INSERT INTO seats (screen_id, seat_id, row_name, label, category, x, y)",
        7,
        values,
    )
    .await
}

pub(super) async fn write_movie<Q: Queryable>(
    q: &mut Q,
    movie: &Movie,
) -> Result<(), mysql_async::Error> {
    q.exec_drop(
        "INSERT INTO movies (id, title, runtime_min, rating) VALUES (?, ?, ?, ?) \
         ON DUPLICATE KEY UPDATE title = VALUES(title), runtime_min = VALUES(runtime_min), \
         rating = VALUES(rating)",
        (
            movie.id,
            movie.title.as_str(),
            movie.runtime_min,
            movie.rating.as_str(),
        ),
    )
    .await
}

/// Upserts a show and replaces its prices; run it inside a transaction.
pub(super) async fn write_show<Q: Queryable>(
    q: &mut Q,
    show: &Show,
) -> Result<(), mysql_async::Error> {
    q.exec_drop(
        "INSERT INTO shows (id, movie_id, screen_id, starts_at_ms, currency) \
         VALUES (?, ?, ?, ?, ?) \
         ON DUPLICATE KEY UPDATE movie_id = VALUES(movie_id), screen_id = VALUES(screen_id), \
         starts_at_ms = VALUES(starts_at_ms), currency = VALUES(currency)",
        (
            show.id,
            show.movie_id,
            show.screen_id,
            show.starts_at_ms,
            show.currency.as_str(),
        ),
    )
    .await?;
    q.exec_drop("DELETE FROM show_prices WHERE show_id = ?", (show.id,))
        .await?;
    let mut values: Vec<Value> = Vec::with_capacity(show.prices.len() * 3);
    for price in &show.prices {
        values.extend([
            Value::from(show.id),
            Value::from(price.category.name()),
            Value::from(price.amount_minor),
        ]);
    }
    insert_rows(
        q,
        "INSERT INTO show_prices (show_id, category, amount_minor)",
        3,
        values,
    )
    .await
}

impl MysqlStore {
    pub(super) async fn try_load_catalog(&self) -> Attempt<CatalogData> {
        let mut tx = self.begin_read().await?;
        let mut catalog = CatalogData::default();

        let rows: Vec<Row> = tx.query("SELECT id, name FROM cities ORDER BY id").await?;
        for row in rows {
            let mut c = Cols::new(row, "cities");
            catalog.cities.push(City {
                id: c.take(0)?,
                name: c.take(1)?,
            });
        }

        let rows: Vec<Row> = tx
            .query("SELECT id, city_id, name FROM theaters ORDER BY id")
            .await?;
        for row in rows {
            let mut c = Cols::new(row, "theaters");
            catalog.theaters.push(Theater {
                id: c.take(0)?,
                city_id: c.take(1)?,
                name: c.take(2)?,
            });
        }

        let rows: Vec<Row> = tx
            .query(
                "SELECT screen_id, seat_id, row_name, label, category, x, y FROM seats \
                 ORDER BY screen_id, seat_id",
            )
            .await?;
        let mut seats: HashMap<u64, Vec<Seat>> = HashMap::new();
        for row in rows {
            let mut c = Cols::new(row, "seats");
            let screen_id: u64 = c.take(0)?;
            seats.entry(screen_id).or_default().push(Seat {
                id: c.take(1)?,
                row: c.take(2)?,
                label: c.take(3)?,
                category: c.category(4)?,
                x: c.take(5)?,
                y: c.take(6)?,
            });
        }
        let rows: Vec<Row> = tx
            .query("SELECT id, theater_id, name FROM screens ORDER BY id")
            .await?;
        for row in rows {
            let mut c = Cols::new(row, "screens");
            let id: u64 = c.take(0)?;
            catalog.screens.push(Screen {
                id,
                theater_id: c.take(1)?,
                name: c.take(2)?,
                seats: seats.remove(&id).unwrap_or_default(),
            });
        }

        let rows: Vec<Row> = tx
            .query("SELECT id, title, runtime_min, rating FROM movies ORDER BY id")
            .await?;
        for row in rows {
            let mut c = Cols::new(row, "movies");
            catalog.movies.push(Movie {
                id: c.take(0)?,
                title: c.take(1)?,
                runtime_min: c.take(2)?,
                rating: c.take(3)?,
            });
        }

        let rows: Vec<Row> = tx
            .query("SELECT show_id, category, amount_minor FROM show_prices")
            .await?;
        let mut prices: HashMap<u64, Vec<Price>> = HashMap::new();
        for row in rows {
            let mut c = Cols::new(row, "show_prices");
            let show_id: u64 = c.take(0)?;
            prices.entry(show_id).or_default().push(Price {
                category: c.category(1)?,
                amount_minor: c.take(2)?,
            });
        }
        let rows: Vec<Row> = tx
            .query("SELECT id, movie_id, screen_id, starts_at_ms, currency FROM shows ORDER BY id")
            .await?;
        for row in rows {
            let mut c = Cols::new(row, "shows");
            let id: u64 = c.take(0)?;
            let mut show_prices = prices.remove(&id).unwrap_or_default();
            show_prices.sort_by_key(|p| p.category);
            catalog.shows.push(Show {
                id,
                movie_id: c.take(1)?,
                screen_id: c.take(2)?,
                starts_at_ms: c.take(3)?,
                currency: c.take(4)?,
                prices: show_prices,
            });
        }
        tx.commit().await?;
        Ok(catalog)
    }

    pub(super) async fn try_upsert_city(&self, city: &City) -> Attempt<()> {
        let mut conn = self.conn().await?;
        write_city(&mut conn, city).await?;
        Ok(())
    }

    pub(super) async fn try_upsert_theater(&self, theater: &Theater) -> Attempt<()> {
        let mut conn = self.conn().await?;
        write_theater(&mut conn, theater).await?;
        Ok(())
    }

    pub(super) async fn try_upsert_screen(&self, screen: &Screen) -> Attempt<()> {
        let mut tx = self.begin().await?;
        write_screen(&mut tx, screen).await?;
        Self::commit(tx).await
    }

    pub(super) async fn try_upsert_movie(&self, movie: &Movie) -> Attempt<()> {
        let mut conn = self.conn().await?;
        write_movie(&mut conn, movie).await?;
        Ok(())
    }

    pub(super) async fn try_upsert_show(&self, show: &Show) -> Attempt<()> {
        let mut tx = self.begin().await?;
        write_show(&mut tx, show).await?;
        Self::commit(tx).await
    }

    pub(super) async fn try_upsert_show_announced(
        &self,
        show: &Show,
        messages: &[crate::notify::message::OutboxMessage],
    ) -> Attempt<()> {
        let mut tx = self.begin().await?;
        write_show(&mut tx, show).await?;
        super::outbox::insert_outbox(&mut tx, messages).await?;
        Self::commit(tx).await
    }

    pub(super) async fn try_load_external_ids(&self) -> Attempt<Vec<ExternalId>> {
        let mut conn = self.conn().await?;
        let rows: Vec<Row> = conn
            .query(
                "SELECT source, kind, external_id, internal_id FROM external_ids \
                 ORDER BY source, kind, external_id",
            )
            .await?;
        let mut ids = Vec::with_capacity(rows.len());
        for row in rows {
            let mut c = Cols::new(row, "external_ids");
            let source: String = c.take(0)?;
            let kind: String = c.take(1)?;
            let kind = ExternalKind::parse(&kind).ok_or_else(|| {
                StoreError::Corrupt(format!("external_ids: unknown kind {kind:?}"))
            })?;
            ids.push(ExternalId {
                source,
                kind,
                external_id: c.take(2)?,
                internal_id: c.take(3)?,
            });
        }
        ids.sort();
        Ok(ids)
    }

    pub(super) async fn try_apply_catalog(&self, changes: &CatalogChanges) -> Attempt<()> {
        let mut tx = self.begin().await?;
        for city in &changes.cities {
            write_city(&mut tx, city).await?;
        }
        for theater in &changes.theaters {
            write_theater(&mut tx, theater).await?;
        }
        for screen in &changes.screens {
            write_screen(&mut tx, screen).await?;
        }
        for movie in &changes.movies {
            write_movie(&mut tx, movie).await?;
        }
        for show in &changes.shows {
            write_show(&mut tx, show).await?;
        }
        for show_id in &changes.removed_shows {
            let bookings: Option<u64> = tx
                .exec_first(
                    "SELECT COUNT(*) FROM bookings WHERE show_id = ?",
                    (*show_id,),
                )
                .await?;
            if bookings.unwrap_or(0) > 0 {
                tx.rollback().await?;
                return Err(StoreError::Conflict(format!(
                    "show {show_id} has bookings and cannot be removed"
                ))
                .into());
            }
            tx.exec_drop("DELETE FROM shows WHERE id = ?", (*show_id,))
                .await?;
            tx.exec_drop(
                "DELETE FROM external_ids WHERE kind = ? AND internal_id = ?",
                (ExternalKind::Show.name(), *show_id),
            )
            .await?;
        }
        for id in &changes.external_ids {
            // ON DUPLICATE KEY would also swallow a clash on (kind, internal_id): check it.
            let owner: Option<(String, String)> = tx
                .exec_first(
                    "SELECT source, external_id FROM external_ids \
                     WHERE kind = ? AND internal_id = ?",
                    (id.kind.name(), id.internal_id),
                )
                .await?;
            if let Some((source, external_id)) = owner {
                if source != id.source || external_id != id.external_id {
                    tx.rollback().await?;
                    return Err(StoreError::Conflict(format!(
                        "{} {} already has the external id {external_id:?} of source {source:?}",
                        id.kind.name(),
                        id.internal_id
                    ))
                    .into());
                }
            }
            tx.exec_drop(
                "INSERT INTO external_ids (source, kind, external_id, internal_id) \
                 VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE internal_id = VALUES(internal_id)",
                (
                    id.source.as_str(),
                    id.kind.name(),
                    id.external_id.as_str(),
                    id.internal_id,
                ),
            )
            .await?;
        }
        Self::commit(tx).await
    }
}
